// libFuzzer target: policy loading and compilation (parse_policy_source + compile_policy), then
// the data path under whatever policy compiled.
//
// Input: the text of one policy file, JSON if it starts with '{' (after blanks), otherwise
// protobuf text format. A file that defines no purpose is compiled together with the shipped
// purposes.textproto, so single class files of policies/defaults compile as they do in the
// folder. A compiled policy must have no errors, explain itself, and evaluate a few messages per
// class (topics built from its filters, payloads built from its field tree, plus fixed samples)
// with every decision checked against the invariants of fuzz_checks.h.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "platform/file.h"
#include "policies/consent_snapshot.h"
#include "policies/evaluator.h"
#include "policies/explain.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using namespace portier::policies;

constexpr std::int64_t kNowMs = 1714551825123;
constexpr std::size_t kMaxClassesTried = 8;
constexpr std::size_t kMaxFiltersTried = 3;

// Fixed payloads tried on every class besides the ones built from its field tree.
constexpr std::string_view kFixedPayloads[] = {
    "21.5",
    "ON",
    R"({"_type":"location","lat":52.370216,"lon":4.895168,"acc":12,"tst":1714551825,"inregions":["Home"]})",
    R"({"temperature":21.53,"battery":97,"last_seen":"2024-05-01T10:23:45.123+02:00","device":{"ieeeAddr":"0x00158d0001a2b3c4"}})",
};

policy_source* default_purposes = nullptr;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fuzz_policy_compiler: %s\n", message.c_str());
  std::abort();
}

// A topic that `filter` matches: literal levels as written, every wildcard level a distinct name
// with spaces and capitals, which neither pseudonyms nor ids can spell.
std::string topic_for(const topic_filter& filter) {
  std::string topic;
  std::string_view text = filter.text();
  int wildcard = 0;
  while (true) {
    const std::size_t slash = text.find('/');
    const std::string_view level = text.substr(0, slash);
    if (level == "+" || level == "#" || (!level.empty() && level.front() == '{')) {
      topic += "Z raw" + std::to_string(wildcard++) + " Z";
    } else {
      topic += level;
    }
    if (slash == std::string_view::npos) break;
    topic += '/';
    text.remove_prefix(slash + 1);
  }
  return topic;
}

enum class leaf_kind { number, string, time };

void build(rapidjson::Value& v, const field_node& n, leaf_kind leaf, rapidjson::Document::AllocatorType& a) {
  if (!n.members.empty()) {
    v.SetObject();
    for (const auto& m : n.members) {
      rapidjson::Value child;
      build(child, *m, leaf, a);
      v.AddMember(rapidjson::Value(m->key.c_str(), static_cast<rapidjson::SizeType>(m->key.size()), a), child, a);
    }
  } else if (n.each) {
    v.SetArray();
    for (int i = 0; i < 2; ++i) {
      rapidjson::Value child;
      build(child, *n.each, leaf, a);
      v.PushBack(child, a);
    }
  } else if (leaf == leaf_kind::number) {
    v.SetDouble(52.370216);
  } else if (leaf == leaf_kind::time) {
    v.SetString("2024-05-01T10:23:45.123+02:00", a);
  } else {
    v.SetString("Anna's school \xc3\xa9\xe2\x82\xac", a);
  }
}

// A payload with every listed path of `c`, and its predicate satisfied.
std::string payload_for(const compiled_class& c, leaf_kind leaf) {
  rapidjson::Document doc;
  auto& a = doc.GetAllocator();
  build(doc, c.root, leaf, a);
  if (c.when && !c.when->steps.empty()) {
    if (!doc.IsObject()) doc.SetObject();
    rapidjson::Value* v = &doc;
    for (std::size_t i = 0; i < c.when->steps.size(); ++i) {
      const std::string& key = c.when->steps[i].key;
      rapidjson::Value* next = nullptr;
      for (rapidjson::SizeType k = 0; k < v->MemberCount(); ++k) {
        auto m = v->MemberBegin() + k;  // (no iterator comparison: ambiguous in C++20)
        if (std::string_view(m->name.GetString(), m->name.GetStringLength()) == key) next = &m->value;
      }
      if (next == nullptr) {
        v->AddMember(rapidjson::Value(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), a), rapidjson::Value(),
                     a);
        next = &(v->MemberBegin() + (v->MemberCount() - 1))->value;
      }
      v = next;
      if (i + 1 < c.when->steps.size()) {
        if (!v->IsObject()) v->SetObject();
      } else {
        v->SetString(c.when->equals.c_str(), static_cast<rapidjson::SizeType>(c.when->equals.size()), a);
      }
    }
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

void evaluate(evaluator& ev, const consent_snapshot& consent, const std::string& topic, std::string_view payload) {
  const decision& d = ev.evaluate(topic, payload, consent, kNowMs);
  portier::fuzz::check_decision(ev, d, topic, true, kNowMs);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  auto purposes = load_policy_file(PORTIER_SOURCE_DIR "/policies/defaults/purposes.textproto");
  if (!purposes) die(purposes.error_message());
  default_purposes = new policy_source(std::move(*purposes));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  const bool json = first != std::string::npos && text[first] == '{';
  auto src = parse_policy_source(json ? "fuzz.json" : "fuzz.textproto", text);
  if (!src) return 0;
  std::vector<policy_source> sources;
  const bool own_purposes = src->policy.purpose_size() > 0;
  sources.push_back(std::move(*src));
  if (!own_purposes) sources.push_back(*default_purposes);
  compile_result r = compile_policy(sources);
  if (!r.policy) {
    if (r.errors.empty()) die("compile_policy returned neither a policy nor an error");
    return 0;
  }
  if (!r.errors.empty()) die("compile_policy returned a policy and errors");
  const compiled_policy& policy = *r.policy;
  if (explain_policy(policy).empty()) die("explain_policy is empty");
  (void)policy.subscriptions();

  portier::policies::engine_identity identity;
  identity.gateway_id = "gw-fuzz";
  identity.secret.assign(32, 0x5a);
  evaluator ev(r.policy, identity);
  consent_snapshot consent;
  for (const auto& p : policy.purposes()) consent.set_household(p.id, consent_decision::granted);

  for (std::size_t ci = 0; ci < policy.classes().size() && ci < kMaxClassesTried; ++ci) {
    const compiled_class& c = *policy.classes()[ci];
    for (std::size_t fi = 0; fi < c.topics.size() && fi < kMaxFiltersTried; ++fi) {
      const std::string topic = topic_for(c.topics[fi]);
      for (leaf_kind leaf : {leaf_kind::number, leaf_kind::string, leaf_kind::time}) {
        evaluate(ev, consent, topic, payload_for(c, leaf));
      }
      for (std::string_view payload : kFixedPayloads) evaluate(ev, consent, topic, payload);
    }
    for (std::size_t field = 0; field < c.fields.size(); ++field) {
      for (std::size_t p = 0; p < policy.purposes().size(); ++p) (void)explain_field(c, field, p);
    }
  }
  return 0;
}
