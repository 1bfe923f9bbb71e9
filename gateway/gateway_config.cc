#include "gateway/gateway_config.h"

#include <unistd.h>

#include <algorithm>
#include <initializer_list>

#include "gateway/household/control_protocol.h"
#include "gateway/mqtt/mqtt_subscriber.h"
#include "platform/file.h"
#include "platform/proto_text.h"
#include "policies/topic_filter.h"

namespace portier::gateway {

namespace {

namespace pc = portier::config;
using platform::field_step;

bool starts_with(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}

bool valid_gateway_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// A URI with "USER[:PASSWORD]@" before the host: the URI is logged, its credentials must not be.
bool has_user_info(const std::string& uri) {
  const auto scheme = uri.find("://");
  const std::string_view rest =
      std::string_view(uri).substr(scheme == std::string::npos ? 0 : scheme + 3);
  return rest.substr(0, rest.find_first_of("/?#")).find('@') != std::string_view::npos;
}

std::string user_info_error(const std::string& side) {
  return "a user name or password does not belong in the URI (it is logged): give them as " + side +
         ".username and " + side + ".password_file";
}

// Empty if `uri` (ssl:// or mqtts://) is HOST:PORT with a port written out, else why not. The
// host and port follow the ingress client's rules (mqtt_subscriber::parse_uri).
std::string upstream_address_problem(const std::string& uri) {
  const std::string_view rest = std::string_view(uri).substr(uri.find("://") + 3);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return "a broker URI has no path: expected ssl://HOST:PORT";
  const auto close = rest.rfind(']');
  if (rest.find(':', close == std::string_view::npos ? 0 : close) == std::string_view::npos)
    return "no port: expected ssl://HOST:PORT (MQTT over TLS is usually port 8883)";
  std::string host, port, why;
  if (!mqtt_subscriber::parse_uri("tcp://" + std::string(rest), host, port, why)) return why;
  return "";
}

// As purpose ids are written in policies (the policy compiler's rule).
bool valid_purpose_id(const std::string& id) {
  return !id.empty() && id.size() <= 32 && id[0] >= 'a' && id[0] <= 'z' &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// Home Assistant's discovery prefix: topic levels of [A-Za-z0-9_-] separated by single '/'.
bool valid_discovery_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix.size() > 64 || prefix.front() == '/' || prefix.back() == '/' ||
      prefix.find("//") != std::string::npos)
    return false;
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '/';
  });
}

std::string purpose_id_error(const std::string& id) {
  return quoted_bounded(id) +
         " is not a purpose id: 1 to 32 lower-case letters, digits or '-', starting with a letter";
}

// The configuration's checks: field_errors, and the files it names.
class validator : public platform::field_errors {
 public:
  using field_errors::field_errors;

  void readable(std::initializer_list<field_step> steps, const std::string& file) {
    if (!file.empty() && ::access(file.c_str(), R_OK) != 0)
      fail(steps, "cannot read \"" + file + "\"");
  }
  std::string read_password(std::initializer_list<field_step> steps, const std::string& file) {
    if (file.empty()) return "";
    auto content = platform::read_file(file, 4096);
    if (!content) {
      fail(steps, content.error_message());
      return "";
    }
    std::string s = *content;
    s = s.substr(0, s.find('\n'));
    return s;
  }
};

}  // namespace

std::string quoted_bounded(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') ? c : '?';
  }
  out += "\"";
  if (s.size() > 40) out += " (" + std::to_string(s.size()) + " characters)";
  return out;
}

std::string config_field(const gateway_config& config,
                         std::initializer_list<platform::field_step> steps) {
  return platform::describe_field(config.path, config.locations.get(), config.proto,
                                  {steps.begin(), steps.size()});
}

platform::result<gateway_config> load_gateway_config(const std::string& path) {
  auto text = platform::read_file(path, 256 * 1024);
  if (!text) return platform::error{text.error_message()};
  gateway_config out;
  out.path = path;
  auto tree = std::make_shared<google::protobuf::TextFormat::ParseInfoTree>();
  if (auto parsed = platform::parse_text_proto(path, *text, out.proto, tree.get()); !parsed) {
    return platform::error{parsed.error_message()};
  }
  out.locations = tree;
  pc::GatewayConfig& c = out.proto;
  validator v(path, tree.get(), c);

  if (!valid_gateway_id(c.gateway_id())) {
    v.fail({{"gateway_id"}}, "gateway_id is required: 1 to 64 letters, digits, '-' or '_'");
  }
  if (c.policy_dir().empty()) c.set_policy_dir("/etc/portier/policies");
  if (c.state_dir().empty()) c.set_state_dir("/var/lib/portier");

  auto& local = *c.mutable_local();
  if (local.uri().empty()) local.set_uri("tcp://127.0.0.1:1883");
  if (has_user_info(local.uri())) {
    v.fail({{"local"}, {"uri"}}, user_info_error("local"));
  } else if (!starts_with(local.uri(), "tcp://") && !starts_with(local.uri(), "mqtt://")) {
    v.fail({{"local"}, {"uri"}},
           "the local broker is reached as tcp://HOST:PORT, got \"" + local.uri() + "\"");
  } else if (std::string host, port, why;
             !mqtt_subscriber::parse_uri(local.uri(), host, port, why)) {
    v.fail({{"local"}, {"uri"}}, "\"" + local.uri() + "\": " + why);
  }
  if (local.client_id().empty()) local.set_client_id("portier-" + c.gateway_id() + "-local");
  if (local.keepalive_seconds() == 0) local.set_keepalive_seconds(30);
  if (local.qos() == 0) local.set_qos(1);
  v.range({{"local"}, {"qos"}}, local.qos(), 1, 2);
  v.range({{"local"}, {"keepalive_seconds"}}, local.keepalive_seconds(), 5, 3600);
  out.password_local = v.read_password({{"local"}, {"password_file"}}, local.password_file());

  auto& up = *c.mutable_upstream();
  if (up.uri().empty()) {
    v.fail({{"upstream"}, {"uri"}}, "upstream.uri is required: ssl://HOST:PORT");
  } else if (has_user_info(up.uri())) {
    v.fail({{"upstream"}, {"uri"}}, user_info_error("upstream"));
  } else if (!starts_with(up.uri(), "ssl://") && !starts_with(up.uri(), "mqtts://")) {
    v.fail({{"upstream"}, {"uri"}},
           "upstream is always TLS: use ssl://HOST:PORT or mqtts://HOST:PORT, got \"" + up.uri() +
               "\"");
  } else if (const std::string why = upstream_address_problem(up.uri()); !why.empty()) {
    v.fail({{"upstream"}, {"uri"}}, "\"" + up.uri() + "\": " + why);
  }
  v.readable({{"upstream"}, {"ca_file"}}, up.ca_file());
  v.readable({{"upstream"}, {"ca_path"}}, up.ca_path());
  v.readable({{"upstream"}, {"client_cert_file"}}, up.client_cert_file());
  v.readable({{"upstream"}, {"client_key_file"}}, up.client_key_file());
  if (up.client_cert_file().empty() != up.client_key_file().empty()) {
    v.fail({{"upstream"}},
           "client_cert_file and client_key_file go together: give both or neither");
  }
  if (up.client_id().empty()) up.set_client_id("portier-" + c.gateway_id());
  if (up.keepalive_seconds() == 0) up.set_keepalive_seconds(30);
  v.range({{"upstream"}, {"keepalive_seconds"}}, up.keepalive_seconds(), 5, 3600);
  if (up.max_inflight() == 0) up.set_max_inflight(64);
  v.range({{"upstream"}, {"max_inflight"}}, up.max_inflight(), 1, 1000);
  out.password_upstream = v.read_password({{"upstream"}, {"password_file"}}, up.password_file());

  for (int i = 0; i < c.grant_size(); ++i) {
    if (!valid_purpose_id(c.grant(i))) v.fail({{"grant", i}}, purpose_id_error(c.grant(i)));
  }
  for (int j = 0; j < c.refuse_size(); ++j) {
    if (!valid_purpose_id(c.refuse(j))) v.fail({{"refuse", j}}, purpose_id_error(c.refuse(j)));
  }
  for (int i = 0; i < c.grant_size(); ++i) {
    for (int j = 0; j < c.refuse_size(); ++j) {
      if (c.grant(i) == c.refuse(j))
        v.fail({{"refuse", j}}, "purpose \"" + c.refuse(j) + "\" is both granted and refused");
    }
  }

  auto& sp = *c.mutable_spool();
  if (sp.max_bytes() == 0) sp.set_max_bytes(64ull << 20);
  if (sp.batch_ms() == 0) sp.set_batch_ms(20);
  v.range({{"spool"}, {"max_bytes"}}, sp.max_bytes(), 64ull << 10, 64ull << 30);
  v.range({{"spool"}, {"batch_ms"}}, sp.batch_ms(), 1, 1000);

  if (c.status().interval_seconds() == 0) c.mutable_status()->set_interval_seconds(30);
  v.range({{"status"}, {"interval_seconds"}}, c.status().interval_seconds(), 1, 3600);

  auto& limits = *c.mutable_limits();
  if (limits.max_payload_bytes() == 0) limits.set_max_payload_bytes(65536);
  if (limits.max_depth() == 0) limits.set_max_depth(16);
  v.range({{"limits"}, {"max_payload_bytes"}}, limits.max_payload_bytes(), 64, kMaxPayloadLimit);
  v.range({{"limits"}, {"max_depth"}}, limits.max_depth(), 1, 32);

  auto& rc = *c.mutable_reconnect();
  if (rc.initial_ms() == 0) rc.set_initial_ms(500);
  if (rc.max_ms() == 0) rc.set_max_ms(30000);
  v.range({{"reconnect"}, {"initial_ms"}}, rc.initial_ms(), 10, 60000);
  v.range({{"reconnect"}, {"max_ms"}}, rc.max_ms(), rc.initial_ms(), 3'600'000);

  auto& control = *c.mutable_control();
  if (control.socket().empty()) control.set_socket("/run/portier/control.sock");
  if (control.group().empty()) control.set_group(kDefaultControlGroup);
  if (c.mutable_ledger()->max_bytes() == 0) c.mutable_ledger()->set_max_bytes(16ull << 20);
  v.range({{"ledger"}, {"max_bytes"}}, c.ledger().max_bytes(), 1ull << 20, 1ull << 30);
  auto& dv = *c.mutable_devices();
  if (dv.max_devices() == 0) dv.set_max_devices(4096);
  v.range({{"devices"}, {"max_devices"}}, dv.max_devices(), 16, 65536);
  if (dv.max_new_per_minute() == 0) dv.set_max_new_per_minute(600);
  v.range({{"devices"}, {"max_new_per_minute"}}, dv.max_new_per_minute(), 1, 100000);
  auto& un = *c.mutable_unmatched();
  if (un.max_shapes() == 0) un.set_max_shapes(256);
  v.range({{"unmatched"}, {"max_shapes"}}, un.max_shapes(), 16, 4096);
  if (un.observe_size() > 16) v.fail({{"unmatched"}, {"observe"}}, "at most 16 filters");
  for (int i = 0; i < un.observe_size() && i < 16; ++i) {
    const std::string& f = un.observe(i);
    auto parsed = policies::topic_filter::parse(f);
    if (!parsed) {
      v.fail({{"unmatched"}, {"observe", i}}, parsed.error_message());
    } else if (f.find_first_of("{}") != std::string::npos) {
      v.fail({{"unmatched"}, {"observe", i}},
             "\"" + f + "\" is an MQTT filter here: \"+\" and \"#\", no {captures}");
    }
  }
  auto& ag = *c.mutable_aggregation();
  if (ag.max_windows() == 0) ag.set_max_windows(4096);
  v.range({{"aggregation"}, {"max_windows"}}, ag.max_windows(), 1, 1'000'000);
  if (ag.max_budgets() == 0) ag.set_max_budgets(16384);
  v.range({{"aggregation"}, {"max_budgets"}}, ag.max_budgets(), 1, 1'000'000);
  if (dv.max_announcements() == 0) dv.set_max_announcements(4096);
  v.range({{"devices"}, {"max_announcements"}}, dv.max_announcements(), 16, 65536);
  if (c.has_home_assistant()) {
    auto& ha = *c.mutable_home_assistant();
    if (ha.discovery_prefix().empty()) ha.set_discovery_prefix("homeassistant");
    if (!valid_discovery_prefix(ha.discovery_prefix())) {
      v.fail({{"home_assistant"}, {"discovery_prefix"}},
             quoted_bounded(ha.discovery_prefix()) +
                 " is not a discovery prefix: topic levels of letters, digits, '-' or '_' "
                 "separated by '/', at most 64 characters");
    }
    if (ha.node_id().empty() && valid_gateway_id(c.gateway_id()))
      ha.set_node_id("portier-" + c.gateway_id());  // at most 72 characters
    const bool node_ok = std::all_of(ha.node_id().begin(), ha.node_id().end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_';
    });
    if (!node_ok || ha.node_id().size() > 72) {  // empty only when gateway_id is wrong
      v.fail(
          {{"home_assistant"}, {"node_id"}},
          quoted_bounded(ha.node_id()) + " is not a node id: 1 to 72 letters, digits, '-' or '_'");
    }
    if (ha.state_interval_seconds() == 0) ha.set_state_interval_seconds(60);
    v.range({{"home_assistant"}, {"state_interval_seconds"}}, ha.state_interval_seconds(), 5, 3600);
  }
  auto& up_dates = *c.mutable_updates();
  if (up_dates.max_bundle_bytes() == 0) up_dates.set_max_bundle_bytes(4u << 20);
  v.range({{"updates"}, {"max_bundle_bytes"}}, up_dates.max_bundle_bytes(), 64u << 10, 16u << 20);
  v.readable({{"updates"}, {"root_key_file"}}, up_dates.root_key_file());
  if (!up_dates.fleet().empty() && !valid_gateway_id(up_dates.fleet())) {
    v.fail({{"updates"}, {"fleet"}}, "fleet must be 1 to 64 letters, digits, '-' or '_'");
  }
  if (!up_dates.fleet().empty() && up_dates.root_key_file().empty()) {
    v.fail({{"updates"}, {"fleet"}}, "a fleet needs updates.root_key_file to verify its bundles");
  }
  if (c.drain_timeout_ms() == 0) c.set_drain_timeout_ms(5000);
  v.range({{"drain_timeout_ms"}}, c.drain_timeout_ms(), 1, 300000);

  if (!v.errors().empty()) {
    std::string e = v.errors();
    e.pop_back();
    return platform::error{e};
  }
  return out;
}

}  // namespace portier::gateway
