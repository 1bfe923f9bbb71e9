// Protobuf text format with positions: parse a file into a message while recording where each
// field was written, and turn a field path into "FILE:LINE:COLUMN: a.b[2].c" for error messages.
// Shared by the policy compiler and the daemon's configuration.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include "platform/result.h"

namespace portier::platform {

// One step of a field path: "device_class", 2 stands for device_class[2]; index -1 for a
// singular field.
struct field_step {
  const char* field;
  int index = -1;
};

// Parses `text` (the content of `path`) into `message`, recording positions into `locations`
// (may be null). The error names file, line and column.
result<bool> parse_text_proto(const std::string& path, std::string_view text,
                              google::protobuf::Message& message,
                              google::protobuf::TextFormat::ParseInfoTree* locations);

// "FILE:LINE:COLUMN: path" for the deepest step that has a recorded position ("FILE: path"
// without positions, e.g. for JSON sources).
// `root` is the parsed message (its repeated fields' sizes matter: list syntax "a: [1, 2]" records
// one position for the whole list).
std::string describe_field(const std::string& path,
                           const google::protobuf::TextFormat::ParseInfoTree* locations,
                           const google::protobuf::Message& root,
                           std::span<const field_step> steps);

// Collects the validation errors of one parsed configuration file, one line each, every line
// naming the field's place (describe_field). The references must outlive it.
class field_errors {
 public:
  field_errors(const std::string& path,
               const google::protobuf::TextFormat::ParseInfoTree* locations,
               const google::protobuf::Message& root)
      : path_(path), locations_(locations), root_(root) {}

  void fail(std::initializer_list<field_step> steps, const std::string& message);
  // Fails unless lo <= v <= hi, saying the bounds and the value.
  void range(std::initializer_list<field_step> steps, std::uint64_t v, std::uint64_t lo,
             std::uint64_t hi);
  // Empty when nothing failed.
  const std::string& errors() const { return errors_; }

 private:
  const std::string& path_;
  const google::protobuf::TextFormat::ParseInfoTree* locations_;
  const google::protobuf::Message& root_;
  std::string errors_;
};

}  // namespace portier::platform
