// portier-policy run: evaluate JSON lines from stdin against a policy, as the gateway would.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "policies/evaluator.h"
#include "tools/portier_policy/commands.h"
#include "tools/portier_policy/input_line.h"
#include "tools/portierctl/format.h"

namespace portier::tools {

namespace {

// Used when --gateway-secret is not given, so that runs are reproducible. A gateway has its own.
constexpr const char* kDefaultSecretHex = "706f72746965722d706f6c6963792d72756e2d64656661756c742d736563726574";

bool parse_hex(const std::string& hex, std::vector<std::uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    for (std::size_t k = i; k < i + 2; ++k) {
      const char c = hex[k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return true;
}

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

// --human: what the device said beside what each purpose receives, for people. Every text a
// device, the policy or the command line chose passes through safe_text(): a topic holding
// "\e]0;..." must not drive the reader's terminal.
void write_human(const std::string& topic, const std::string& payload, const policies::decision& d,
                 policies::evaluator& ev, const policies::consent_snapshot& consent) {
  using ctl::safe_text;
  const auto& policy = ev.policy();
  std::cout << "── " << safe_text(topic) << "\n";
  std::cout << "   device sent     " << safe_text(payload) << "\n";
  // Reasons that stop the whole message come first in drop_reason, up to duplicate_key.
  std::string whole;
  for (std::size_t i = 0; i <= static_cast<std::size_t>(policies::drop_reason::duplicate_key); ++i) {
    if (d.drops()[i] > 0) whole = policies::drop_reason_name(static_cast<policies::drop_reason>(i));
  }
  for (auto r :
       {policies::drop_reason::unannounced_topic, policies::drop_reason::unknown_announcement}) {
    if (d.drops(r) > 0) whole = policies::drop_reason_name(r);
  }
  if (const policies::compiled_class* c = d.device_class()) {
    std::cout << "   class           " << c->id << " (" << safe_text(c->title) << ")\n";
  }
  if (!whole.empty()) {
    std::cout << "   nothing leaves  the whole message is dropped: " << whole << "\n";
  } else if (const policies::compiled_class* c = d.device_class()) {
    for (std::size_t p : c->purposes) {
      const auto& purpose = policy.purposes()[p];
      std::string label = purpose.id;
      label.resize(std::max<std::size_t>(label.size(), 15), ' ');
      const policies::release* r = nullptr;
      for (const auto& rel : d.releases()) {
        if (rel.purpose == p) r = &rel;
      }
      if (r != nullptr) {
        std::cout << "   " << label << " " << safe_text(r->topic) << "  " << safe_text(r->payload)
                  << "\n";
      } else if (purpose.suspended) {
        std::cout << "   " << label << " nothing: suspended by the operator\n";
      } else if (!ev.granted(consent, p, d.device_id(), c->id)) {
        std::cout << "   " << label << " nothing: not granted by the household\n";
      } else {
        std::cout << "   " << label << " nothing it may receive\n";
      }
    }
  }
  std::string dropped;
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (d.drops()[i] == 0) continue;
    dropped += (dropped.empty() ? "" : ", ") + std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i))) +
               " " + std::to_string(d.drops()[i]);
  }
  if (!dropped.empty()) std::cout << "   dropped         " << dropped << "\n";
  if (const policies::announcement* a = d.announced()) {
    std::cout << "   announces       " << safe_text(a->state_topic) << ": "
              << (a->meaning.opaque ? std::string("no meaning (a value template)")
                                    : "device class \"" + safe_text(a->meaning.device_class) +
                                          "\", unit \"" + safe_text(a->meaning.unit) + "\"")
              << "\n";
  }
  std::cout << "\n";
}

// "announced": what the line told the gateway about a state topic (only the members it set).
void write_announced(json_writer& w, const policies::announcement& a) {
  auto string = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.Key("announced");
  w.StartObject();
  string("state_topic", a.state_topic);
  if (a.meaning.opaque) {
    w.Key("opaque");
    w.Bool(true);
  } else {
    if (a.sets_device_class) string("device_class", a.meaning.device_class);
    if (a.sets_unit) string("unit", a.meaning.unit);
  }
  w.EndObject();
}

void write_error(std::size_t line, const std::string& message) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("line");
  w.Uint64(line);
  w.Key("error");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  std::cout << buf.GetString() << "\n";
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  std::vector<std::string> grants, refusals;
  bool grant_all = false, pause = false, human = false;
  std::string gateway_id = "gw-test";
  std::string secret_hex = kDefaultSecretHex;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if ((a == "--grant" || a == "--refuse" || a == "--gateway-id" || a == "--gateway-secret") && !has_value) {
      std::cerr << "portier-policy run: " << a << " needs a value\n";
      return 2;
    }
    if (a == "--grant") {
      grants.push_back(args[++i]);
    } else if (a == "--refuse") {
      refusals.push_back(args[++i]);
    } else if (a == "--grant-all") {
      grant_all = true;
    } else if (a == "--human") {
      human = true;
    } else if (a == "--pause") {
      pause = true;
    } else if (a == "--gateway-id") {
      gateway_id = args[++i];
    } else if (a == "--gateway-secret") {
      secret_hex = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "portier-policy run: unknown option " << a << "\n";
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    std::cerr << "portier-policy run: name at least one policy file or directory\n";
    return 2;
  }
  policies::engine_identity identity;
  identity.gateway_id = gateway_id;
  if (!parse_hex(secret_hex, identity.secret) || identity.secret.size() < 16) {
    std::cerr << "portier-policy run: --gateway-secret must be at least 32 hexadecimal digits\n";
    return 2;
  }
  auto policy = load_policy(paths);
  if (!policy) return 1;
  policies::consent_snapshot consent;
  consent.set_paused(pause);
  for (const auto& p : policy->purposes()) {
    if (grant_all) consent.set_household(p.id, policies::consent_decision::granted);
  }
  for (const auto& g : grants) {
    if (policy->purpose_index(g) < 0) {
      std::cerr << "portier-policy run: --grant names unknown purpose \"" << g << "\"\n";
      return 2;
    }
    consent.set_household(g, policies::consent_decision::granted);
  }
  for (const auto& r : refusals) {
    if (policy->purpose_index(r) < 0) {
      std::cerr << "portier-policy run: --refuse names unknown purpose \"" << r << "\"\n";
      return 2;
    }
    consent.set_household(r, policies::consent_decision::refused);
  }
  std::unique_ptr<policies::evaluator> ev;
  try {
    ev = std::make_unique<policies::evaluator>(policy, identity);
  } catch (const std::exception& e) {
    std::cerr << "portier-policy run: " << e.what() << "\n";
    return 2;
  }

  int status = 0;
  std::string line;
  std::size_t line_no = 0;
  std::string topic, payload;
  input_line reader;
  // What discovery messages on earlier lines announced, as portierd keeps it across messages.
  policies::announcement_map announcements;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!reader.read(line, topic, payload)) {
      write_error(line_no, "expected {\"topic\": \"...\", \"payload\": <JSON value>}");
      status = 1;
      continue;
    }
    const policies::decision& d = ev->evaluate(topic, payload, consent, 0, &announcements);
    if (const policies::announcement* a = d.announced()) announcements.record(*a, 0);
    if (human) {
      write_human(topic, payload, d, *ev, consent);
      continue;
    }
    rapidjson::StringBuffer buf;
    json_writer w(buf);
    w.StartObject();
    w.Key("topic");
    w.String(topic.c_str(), static_cast<rapidjson::SizeType>(topic.size()));
    w.Key("releases");
    w.StartArray();
    for (const auto& r : d.releases()) {
      w.StartObject();
      const std::string& pid = policy->purposes()[r.purpose].id;
      w.Key("purpose");
      w.String(pid.c_str(), static_cast<rapidjson::SizeType>(pid.size()));
      w.Key("topic");
      w.String(r.topic.c_str(), static_cast<rapidjson::SizeType>(r.topic.size()));
      w.Key("payload");
      if (r.payload_is_json) {
        w.RawValue(r.payload.c_str(), r.payload.size(), rapidjson::kObjectType);
      } else {
        w.String(r.payload.c_str(), static_cast<rapidjson::SizeType>(r.payload.size()));
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("dropped");
    w.StartArray();
    for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
      if (d.drops()[i] == 0) continue;
      const auto name = policies::drop_reason_name(static_cast<policies::drop_reason>(i));
      w.StartObject();
      w.Key("reason");
      w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      w.Key("count");
      w.Uint(d.drops()[i]);
      w.EndObject();
    }
    w.EndArray();
    if (const policies::announcement* a = d.announced()) write_announced(w, *a);
    w.EndObject();
    std::cout << buf.GetString() << "\n";
  }
  return status;
}

}  // namespace portier::tools
