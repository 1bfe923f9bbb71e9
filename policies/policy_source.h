// Loading policy files: protobuf text format (".textproto", ".txtpb", ".pb.txt") or JSON
// (".json") with the same field names. Syntax errors name file, line and column. A loaded
// source keeps where each field was written so that the compiler's errors can point at it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/text_format.h>

#include "platform/result.h"
#include "policy.pb.h"

namespace portier::policies {

inline constexpr std::size_t kMaxPolicyFileBytes = 1 << 20;

struct policy_source {
  std::string path;
  portier::policy::Policy policy;
  // Where each field was written; null for JSON, whose parser does not report positions.
  std::shared_ptr<const google::protobuf::TextFormat::ParseInfoTree> locations;
};

// Whether a file name (no directory) is a policy file: .textproto, .txtpb, .pb.txt or .json.
bool is_policy_file_name(std::string_view name);

// Parses `text` as the content of `path`; the extension (".json" or not) chooses the syntax.
platform::result<policy_source> parse_policy_source(const std::string& path, std::string_view text);
platform::result<policy_source> load_policy_file(const std::string& path);
// Every policy file directly inside `dir`, in name order.
platform::result<std::vector<policy_source>> load_policy_dir(const std::string& dir);

}  // namespace portier::policies
