// core/result.h — the error vocabulary of wsedge's data path.
//
// Two small value types, no exceptions:
//   IoResult  what a non-blocking syscall wrapper returns: Ok(bytes), Again (EAGAIN, try
//             after the next readiness event), Closed (orderly EOF / peer reset), Error(errno).
//   Result<T> a value or an Error{errno-or-0, static message}. The message is a string
//             literal owned by nobody, so building an error never allocates.
// Low layers return these and never log; the layer that decides what to do logs.
#pragma once

#include <cstddef>
#include <utility>
#include <variant>

namespace wsedge {

enum class IoStatus { kOk, kAgain, kClosed, kError };

struct IoResult {
  IoStatus status = IoStatus::kOk;
  size_t bytes = 0;  // meaningful for kOk only
  int err = 0;       // errno, for kError only

  static IoResult ok(size_t n) { return {IoStatus::kOk, n, 0}; }
  static IoResult again() { return {IoStatus::kAgain, 0, 0}; }
  static IoResult closed() { return {IoStatus::kClosed, 0, 0}; }
  static IoResult error(int e) { return {IoStatus::kError, 0, e}; }
};

// An error: `what` is a string literal naming the failed operation ("bind", "epoll_ctl(ADD)");
// `sys_errno` is the errno it failed with, or 0 when the failure is not a syscall's.
struct Error {
  const char* what = "";
  int sys_errno = 0;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(e) {}                 // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : ok_(false), e_(e) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return e_; }

 private:
  bool ok_ = true;
  Error e_{};
};

// Formats an Error as "what: strerror(errno)" (or just "what") into a caller buffer.
// Returns buf; never allocates.
const char* describe(const Error& e, char* buf, size_t len);

}  // namespace wsedge
