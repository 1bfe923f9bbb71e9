// libFuzzer target: the shape portierd keeps of a message no class takes
// (policies/message_shape.h). The input is a topic, a newline, then the payload, as for
// fuzz_json_rewriter (whose sample seeds it shares).
//
// Shaping must never crash or hang, and what it keeps must follow its rules: a topic shape has at
// most 32 levels, each "+", empty, a final "#", or a word the vocabulary keeps at that position;
// a payload shape has exactly one format, at most 64 paths in order, each a valid field path
// whose keys are "*" or keys key_shape() keeps, each with at least one type; merging a shape
// into itself changes nothing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "policies/field_path.h"
#include "policies/message_shape.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

namespace {

using namespace portier::policies;

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_message_shape: %s\n", what.c_str());
  std::abort();
}

const shape_vocabulary& vocabulary() {
  static const shape_vocabulary* v = [] {
    auto src = parse_policy_source("fuzz.textproto", R"(
      purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
      device_class { id: "z" topic: "zigbee2mqtt/{device...}/availability" field { path: "a" } }
      device_class { id: "s" topic: "shellies/{device}/relay/{n}/power" field { path: "$" } }
      ignore { topic: "frigate/{camera}/snapshot" why: "images" })");
    if (!src) violated(src.error_message());
    std::vector<policy_source> sources;
    sources.push_back(std::move(*src));
    auto r = compile_policy(sources);
    if (!r.policy) violated("the fuzz policy does not compile");
    return new shape_vocabulary(*r.policy);
  }();
  return *v;
}

void check_topic(std::string_view topic) {
  const std::string shape = topic_shape(topic, vocabulary());
  std::size_t position = 0, start = 0;
  while (true) {
    const std::size_t slash = shape.find('/', start);
    const std::string_view level = std::string_view(shape).substr(
        start, slash == std::string::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string::npos;
    if (position >= kMaxShapeLevels) violated("more than 32 levels: " + shape);
    const bool ok = level.empty() || level == "+" || (level == "#" && last) ||
                    vocabulary().keeps(level, position);
    if (!ok) violated("level \"" + std::string(level) + "\" kept in " + shape);
    if (last) break;
    start = slash + 1;
    ++position;
  }
}

void check_payload(std::string_view payload) {
  const payload_shape s = payload_shape_of(payload);
  if (s.formats != format_json && s.formats != format_text && s.formats != format_binary) {
    violated("not exactly one format");
  }
  if (s.paths.size() > kMaxShapePaths) violated("more than 64 paths");
  for (std::size_t i = 0; i < s.paths.size(); ++i) {
    const shape_path& p = s.paths[i];
    if (i > 0 && !(s.paths[i - 1].path < p.path)) violated("paths out of order");
    if (p.types == 0) violated("a path without a type: " + p.path);
    auto steps = parse_field_path(p.path);
    if (!steps) violated("not a field path: " + p.path + ": " + steps.error_message());
    if (steps->size() > kMaxShapeDepth) violated("deeper than 8 steps: " + p.path);
    for (const auto& step : *steps) {
      if (!step.each && step.key != "*" && key_shape(step.key) != step.key) {
        violated("key \"" + step.key + "\" kept in " + p.path);
      }
    }
  }
  payload_shape twice = s;
  merge_payload_shape(twice, s);
  if (twice.formats != s.formats || twice.truncated != s.truncated ||
      twice.paths.size() != s.paths.size()) {
    violated("merging a shape into itself changed it");
  }
  for (std::size_t i = 0; i < s.paths.size(); ++i) {
    if (twice.paths[i].path != s.paths[i].path || twice.paths[i].types != s.paths[i].types) {
      violated("merging a shape into itself changed " + s.paths[i].path);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view topic = input.substr(0, newline);
  const std::string_view payload =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  check_topic(topic);
  check_payload(payload);
  return 0;
}
