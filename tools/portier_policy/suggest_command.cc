// portier-policy suggest: draft device classes (policies/class_draft.h) from the shapes portierd
// kept of unmatched messages (`portierctl unmatched --json`), or from captured messages, one
// {"topic", "payload"} object a line (the samples format).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "control.pb.h"
#include "policies/class_draft.h"
#include "policies/evaluator.h"
#include "policies/message_shape.h"
#include "tools/portier_policy/args.h"
#include "tools/portier_policy/commands.h"
#include "tools/portier_policy/input_line.h"

namespace portier::tools {

namespace {

constexpr std::size_t kMaxInputBytes = 64u << 20;
constexpr std::size_t kMaxTopicBytes = 1024;

bool read_input(const std::string& file, std::string& out) {
  if (file.empty() || file == "-") {
    out.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out.size() <= kMaxInputBytes;
}

// The answer of `portierctl unmatched --json`, if that is what `text` is.
bool read_shapes(const std::string& text, std::vector<policies::draft_shape>& out) {
  control::UnmatchedResult result;
  if (!google::protobuf::util::JsonStringToMessage(text, &result).ok()) return false;
  for (const auto& s : result.shape()) {
    if (s.topic().empty() || s.topic().size() > kMaxTopicBytes) continue;
    policies::draft_shape d;
    d.topic = s.topic();
    d.messages = s.messages();
    d.first_seen_ms = s.first_seen_ms();
    d.last_seen_ms = s.last_seen_ms();
    for (const auto& f : s.formats()) d.payload.formats |= policies::shape_format_bit(f);
    for (const auto& p : s.path()) {
      policies::shape_path sp{p.path(), 0};
      for (const auto& t : p.types()) sp.types |= policies::shape_type_bit(t);
      d.payload.paths.push_back(std::move(sp));
    }
    std::sort(d.payload.paths.begin(), d.payload.paths.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    d.payload.truncated = s.paths_truncated();
    out.push_back(std::move(d));
  }
  return true;
}

}  // namespace

int suggest_command(const std::vector<std::string>& args) {
  auto parsed = parse_args("suggest", args, {}, {"--policy"}, {});
  if (!parsed) return 2;
  if (parsed->positional.size() > 1) {
    return usage_error("suggest", "give at most one input file (or none: standard input)");
  }
  const std::string file = parsed->positional.empty() ? "-" : parsed->positional[0];
  std::shared_ptr<const policies::compiled_policy> policy;
  if (parsed->has("--policy")) {
    policy = load_policy(parsed->all("--policy"));
    if (!policy) return 1;
  }
  std::string text;
  if (!read_input(file, text)) {
    std::cerr << "portier-policy suggest: cannot read " << (file == "-" ? "standard input" : file)
              << " (or it is over 64 MiB)\n";
    return 1;
  }
  const std::string name = file == "-" ? "standard input" : file;

  std::vector<policies::draft_shape> shapes;
  std::string source;
  if (read_shapes(text, shapes)) {
    source = name + " (portierctl unmatched --json)";
  } else {
    // Captured messages: the shapes of those the policy (if given) leaves unmatched.
    const auto vocabulary =
        policy ? policies::shape_vocabulary(*policy) : policies::shape_vocabulary();
    std::unique_ptr<policies::evaluator> ev;
    if (policy) {
      try {
        ev = std::make_unique<policies::evaluator>(
            policy, policies::engine_identity{"suggest", std::vector<std::uint8_t>(32, 1)});
      } catch (const std::exception& e) {
        std::cerr << "portier-policy suggest: " << e.what() << "\n";
        return 2;
      }
    }
    const policies::consent_snapshot consent;
    std::map<std::string, std::size_t> index;  // topic shape -> position in `shapes`
    std::istringstream lines(text);
    std::string line, topic, payload;
    std::size_t line_no = 0, messages = 0, covered = 0;
    input_line reader;
    while (std::getline(lines, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (!reader.read(line, topic, payload)) {
        std::cerr << "portier-policy suggest: " << name << ":" << line_no
                  << ": expected {\"topic\": \"...\", \"payload\": <JSON value>}, or the whole "
                     "input to be `portierctl unmatched --json`\n";
        return 1;
      }
      ++messages;
      if (ev &&
          ev->evaluate(topic, payload, consent, 0).drops(policies::drop_reason::unmatched_topic) ==
              0) {
        ++covered;
        continue;
      }
      const std::string key = policies::topic_shape(topic, vocabulary);
      auto [it, fresh] = index.emplace(key, shapes.size());
      if (fresh) shapes.push_back({key, 0, 0, 0, {}});
      policies::draft_shape& s = shapes[it->second];
      ++s.messages;
      policies::merge_payload_shape(s.payload, policies::payload_shape_of(payload));
    }
    std::stable_sort(shapes.begin(), shapes.end(),
                     [](const auto& a, const auto& b) { return a.messages > b.messages; });
    source = name + " (" + std::to_string(messages) + " captured messages";
    if (policy)
      source += ", " + std::to_string(covered) + " left out: not unmatched under the policy";
    source += ")";
  }
  if (shapes.empty()) {
    std::cerr << "portier-policy suggest: no message without a class, nothing to draft\n";
  }
  std::cout << policies::draft_classes(shapes, source);
  return 0;
}

}  // namespace portier::tools
