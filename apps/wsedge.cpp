#include <cstdio>
int main() { std::puts("wsedge: under construction"); return 0; }
