#include "http/grammar.h"

namespace wsedge::http {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool next_list_element(std::string_view* list, std::string_view* element) {
  std::string_view& l = *list;
  while (!l.empty()) {
    size_t comma = l.find(',');
    std::string_view e = trim_ows(l.substr(0, comma));
    l = comma == std::string_view::npos ? std::string_view{} : l.substr(comma + 1);
    if (!e.empty()) {
      *element = e;
      return true;
    }
  }
  return false;
}

}  // namespace wsedge::http
