// portier-policy publish, publish-keylist: put a signed bundle or key list on the operator's
// broker, retained at QoS 1, where gateways pick it up (now, or when they next connect):
//   bundles    portier/{gateway}/policy  or  portier/fleet/{name}/policy
//   key lists  portier/{gateway}/keys    or  portier/fleet/{name}/keys
// Like portierd's upstream connection, and with its client (gateway/mqtt/mqtt_client.h): TLS
// only, the server's certificate and host name always verified. The file is checked to be what it claims before it is sent; its signature is the
// gateways' to check (`portier-policy verify` does the same offline).
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "bundle.pb.h"
#include "gateway/mqtt/mqtt_client.h"
#include "gateway/mqtt/tls_diagnosis.h"
#include "platform/file.h"
#include "policies/bundle_verifier.h"
#include "tools/portier_policy/args.h"
#include "tools/portier_policy/commands.h"

namespace portier::tools {

namespace {

namespace pb = portier::bundle;

int fail(std::string_view command, const std::string& message) {
  std::cerr << "portier-policy " << command << ": " << message << "\n";
  return 1;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Connects, publishes `payload` retained at QoS 1 and waits for the broker's PUBACK. The first
// failed connect ends it (a TLS failure says why, as portierd's log would).
int publish_retained(std::string_view command, const parsed_args& a, const std::string& topic,
                     const std::string& payload) {
  const std::string uri = *a.get("--broker");
  const auto timeout = std::chrono::seconds(std::stoi(a.get("--timeout").value_or("30")));
  gateway::mqtt_client::settings s;
  s.name = "portier-policy";
  s.uri = uri;
  s.tls_files.ca_file = a.get("--cafile").value_or("");
  s.tls_files.ca_path = a.get("--capath").value_or("");
  s.tls_files.client_cert_file = a.get("--cert").value_or("");
  s.tls_files.client_key_file = a.get("--key").value_or("");
  s.client_id = "portier-policy-" + std::to_string(::getpid());
  s.username = a.get("--username").value_or("");
  if (auto pf = a.get("--password-file")) {
    auto text = platform::read_file(*pf, 4096);
    if (!text) return fail(command, text.error_message());
    s.password = text->substr(0, text->find('\n'));
  }
  s.clean_session = true;
  s.max_inflight = 1;
  s.connect_timeout = timeout;
  s.backoff_initial = s.backoff_max = std::chrono::hours(1);  // one attempt
  gateway::mqtt_client::address address;
  std::string why;
  if (!gateway::mqtt_client::parse_uri(uri, address, why)) return fail(command, uri + ": " + why);

  std::mutex mu;
  std::condition_variable cv;
  bool refused = false, acked = false;
  std::string tls_line;
  gateway::mqtt_client client(s);
  client.on_connect_result([&](bool ok, const platform::tls_handshake_report* tls) {
    if (ok) return;
    std::lock_guard lock(mu);
    refused = true;
    if (tls != nullptr) {
      if (auto d = gateway::diagnose_tls(*tls, address.host))
        tls_line = gateway::tls_failure_line(*d);
    }
    cv.notify_all();
  });
  client.on_ack([&](std::uint64_t) {
    std::lock_guard lock(mu);
    acked = true;
    cv.notify_all();
  });
  client.start();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock lock(mu);
    while (!refused && !client.connected() && std::chrono::steady_clock::now() < deadline)
      cv.wait_for(lock, std::chrono::milliseconds(50));
    if (refused) {
      lock.unlock();
      client.stop(std::chrono::milliseconds(0));
      return fail(command, "cannot connect to " + uri +
                               (tls_line.empty() ? " (see above)" : ": TLS: " + tls_line));
    }
  }
  if (!client.connected() || !client.publish(topic, payload, 1, true, 1)) {
    client.stop(std::chrono::milliseconds(0));
    return fail(command, "cannot connect to " + uri + ": timed out");
  }
  client.flush();
  bool ok;
  {
    std::unique_lock lock(mu);
    ok = cv.wait_until(lock, deadline, [&] { return acked; });
  }
  client.stop(std::chrono::seconds(5));
  if (!ok) return fail(command, "no acknowledgement from " + uri + " within the timeout");
  return 0;
}

}  // namespace

int publish_command(const std::string& command, const std::vector<std::string>& args) {
  auto a = parse_args(command, args,
                      {"--broker", "--cafile", "--capath", "--cert", "--key", "--username",
                       "--password-file", "--gateway", "--fleet", "--timeout"},
                      {}, {});
  if (!a) return 2;
  if (!a->get("--broker")) return usage_error(command, "--broker ssl://HOST:PORT is required");
  const std::string uri = *a->get("--broker");
  if (!starts_with(uri, "ssl://") && !starts_with(uri, "mqtts://")) {
    return usage_error(
        command,
        "the broker is always TLS: use ssl://HOST:PORT or mqtts://HOST:PORT, got \"" + uri + "\"");
  }
  if (a->has("--cert") != a->has("--key"))
    return usage_error(command, "--cert and --key go together (mutual TLS)");
  if (a->has("--gateway") == a->has("--fleet")) {
    return usage_error(command, "choose where to publish: --gateway ID or --fleet NAME");
  }
  if (auto t = a->get("--timeout")) {
    auto n = parse_positive(*t);
    if (!n || *n > 600)
      return usage_error(command, "--timeout must be 1 to 600 seconds, got \"" + *t + "\"");
  }
  const std::string id = a->get("--gateway").value_or(a->get("--fleet").value_or(""));
  if (!valid_topic_id(id)) {
    return usage_error(command, (a->has("--gateway") ? "gateway id \"" : "fleet name \"") + id +
                                    "\" must be 1 to 64 letters, digits, '-' or '_'");
  }
  if (a->positional.size() != 1) {
    return usage_error(command, command == "publish" ? "name exactly one signed bundle file"
                                                     : "name exactly one signed key list file");
  }
  const std::string path = a->positional[0];
  const bool is_bundle = command == "publish";
  const std::string prefix = a->has("--gateway") ? "portier/" + id : "portier/fleet/" + id;
  const std::string topic = prefix + (is_bundle ? "/policy" : "/keys");

  auto bytes = platform::read_file(
      path, is_bundle ? policies::kDefaultMaxBundleBytes : policies::kMaxKeyListBytes);
  if (!bytes) return fail(command, bytes.error_message());
  std::string what;
  if (is_bundle) {
    pb::SignedPolicyBundle sb;
    pb::PolicyBundle b;
    if (!sb.ParseFromString(*bytes) || !b.ParseFromString(sb.bundle()) ||
        b.format() != policies::kBundleFormat) {
      return fail(command, path + ": not a signed policy bundle (made by `portier-policy sign`)");
    }
    if (a->has("--gateway") && b.target().has_gateways() &&
        !policies::is_targeted(b.target(), id, {})) {
      return fail(command, path + ": the bundle targets " + policies::describe_target(b.target()) +
                               ", not " + id);
    }
    what = "bundle sequence " + std::to_string(b.sequence()) + " (targets " +
           policies::describe_target(b.target()) + ")";
  } else {
    pb::SignedKeyList sk;
    pb::KeyList k;
    if (!sk.ParseFromString(*bytes) || !k.ParseFromString(sk.key_list()) ||
        k.format() != policies::kKeyListFormat) {
      return fail(command, path + ": not a signed key list (made by `portier-policy keylist`)");
    }
    what = "key list version " + std::to_string(k.version());
  }
  const int rc = publish_retained(command, *a, topic, *bytes);
  if (rc == 0) std::cout << "ok: published " << what << " to " << topic << " (retained, QoS 1)\n";
  // Paho's library threads can still touch a destroyed client's tokens while the process tears
  // down (a rare double free seen under load): leave without running static destructors.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(rc);
}

}  // namespace portier::tools
