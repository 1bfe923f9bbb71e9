// portier-policy publish, publish-keylist: put a signed bundle or key list on the operator's
// broker, retained at QoS 1, where gateways pick it up (now, or when they next connect):
//   bundles    portier/{gateway}/policy  or  portier/fleet/{name}/policy
//   key lists  portier/{gateway}/keys    or  portier/fleet/{name}/keys
// Like portierd's upstream connection: TLS only, the server's certificate and host name always
// verified. The file is checked to be what it claims before it is sent; its signature is the
// gateways' to check (`portier-policy verify` does the same offline).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include <mqtt/async_client.h>

#include "bundle.pb.h"
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

// Connects, publishes `payload` retained at QoS 1 and waits for the broker's PUBACK.
int publish_retained(std::string_view command, const parsed_args& a, const std::string& topic,
                     const std::string& payload) {
  const std::string uri = *a.get("--broker");
  const auto timeout = std::chrono::seconds(std::stoi(a.get("--timeout").value_or("30")));
  std::mutex mu;
  std::string tls_error;
  try {
    mqtt::async_client client(uri, "portier-policy-" + std::to_string(::getpid()), nullptr);
    auto ssl = mqtt::ssl_options_builder()
                   .enable_server_cert_auth(true)
                   .verify(true)
                   .ssl_version(MQTT_SSL_VERSION_TLS_1_2)
                   .error_handler([&](const std::string& msg) {
                     std::lock_guard lock(mu);
                     if (tls_error.empty())
                       tls_error = msg.substr(0, msg.find_last_not_of(" \r\n") + 1);
                   });
    if (auto f = a.get("--cafile")) ssl.trust_store(*f);
    if (auto p = a.get("--capath")) ssl.ca_path(*p);
    if (!a.get("--cafile") && !a.get("--capath")) ssl.ca_path("/etc/ssl/certs");
    if (auto c = a.get("--cert")) {
      ssl.key_store(*c);
      ssl.private_key(*a.get("--key"));
    }
    auto options = mqtt::connect_options_builder().clean_session(true).connect_timeout(timeout).ssl(
        ssl.finalize());
    if (auto u = a.get("--username")) options.user_name(*u);
    if (auto pf = a.get("--password-file")) {
      auto text = platform::read_file(*pf, 4096);
      if (!text) return fail(command, text.error_message());
      options.password(text->substr(0, text->find('\n')));
    }
    auto connecting = client.connect(options.finalize());
    if (!connecting->wait_for(timeout))
      return fail(command, "cannot connect to " + uri + ": timed out");
    auto token = client.publish(topic, payload.data(), payload.size(), 1, true);
    if (!token->wait_for(timeout))
      return fail(command, "no acknowledgement from " + uri + " within the timeout");
    client.disconnect()->wait_for(timeout);
  } catch (const mqtt::exception& e) {
    std::lock_guard lock(mu);
    return fail(command, "cannot publish to " + uri + ": " + e.what() +
                             (tls_error.empty() ? "" : " (TLS: " + tls_error + ")"));
  }
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
