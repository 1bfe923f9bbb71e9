#include "policies/policy_source.h"

#include <dirent.h>

#include <algorithm>

#include <google/protobuf/util/json_util.h>

#include "platform/file.h"
#include "platform/proto_text.h"

namespace portier::policies {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_json_path(std::string_view path) {
  return ends_with(path, ".json");
}

}  // namespace

bool is_policy_file_name(std::string_view name) {
  return ends_with(name, ".textproto") || ends_with(name, ".txtpb") || ends_with(name, ".pb.txt") ||
         is_json_path(name);
}

platform::result<policy_source> parse_policy_source(const std::string& path,
                                                    std::string_view text) {
  policy_source src;
  src.path = path;
  if (text.size() > kMaxPolicyFileBytes) return platform::error{path + ": larger than 1 MiB"};
  if (is_json_path(path)) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(text, &src.policy, options);
    if (!status.ok()) return platform::error{path + ": " + std::string(status.message())};
    return src;
  }
  auto tree = std::make_shared<google::protobuf::TextFormat::ParseInfoTree>();
  if (auto parsed = platform::parse_text_proto(path, text, src.policy, tree.get()); !parsed) {
    return platform::error{parsed.error_message()};
  }
  src.locations = std::move(tree);
  return src;
}

platform::result<policy_source> load_policy_file(const std::string& path) {
  auto text = platform::read_file(path, kMaxPolicyFileBytes);
  if (!text) return platform::error{text.error_message()};
  return parse_policy_source(path, *text);
}

platform::result<std::vector<policy_source>> load_policy_dir(const std::string& dir) {
  auto listed = platform::list_directory(dir);
  if (!listed) return platform::error{dir + ": cannot open policy directory"};
  std::vector<std::string> names;
  for (const auto& n : *listed) {
    if (n[0] != '.' && is_policy_file_name(n)) names.push_back(n);
  }
  if (names.empty()) return platform::error{dir + ": no policy files (.textproto or .json)"};
  std::vector<policy_source> out;
  for (const auto& n : names) {
    auto src = load_policy_file(dir + "/" + n);
    if (!src) return platform::error{src.error_message()};
    out.push_back(std::move(*src));
  }
  return out;
}

}  // namespace portier::policies
