// result<T>: a value or an error message, for failures that are expected (bad input, missing
// file). The data path returns these instead of throwing; see ../shared STYLE "errors are values".
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace portier::platform {

struct error {
  std::string message;
};

template <typename T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose, like std::expected
  result(error e) : v_(std::move(e)) {}      // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const std::string& error_message() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, error> v_;
};

}  // namespace portier::platform
