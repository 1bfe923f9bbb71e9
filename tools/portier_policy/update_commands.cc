// portier-policy keygen, keylist, sign, verify: the operator's side of signed remote policy
// updates (docs/POLICY-UPDATES.md). Private keys never leave their 0600 files; every output is
// checked the way a gateway will check it before it is written.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <set>

#include "platform/ecdsa_p256.h"
#include "platform/file.h"
#include "policies/bundle_signer.h"
#include "policies/bundle_verifier.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "tools/portier_policy/args.h"
#include "tools/portier_policy/commands.h"

namespace portier::tools {

namespace {

namespace pb = portier::bundle;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

int fail(std::string_view command, const std::string& message) {
  std::cerr << "portier-policy " << command << ": " << message << "\n";
  return 1;
}

// The policy files named by `paths` (files, or directories meaning every policy file directly
// inside), as bundle files named by their base names; with each file's full path.
bool read_policy_files(std::string_view command, const std::vector<std::string>& paths,
                       std::vector<std::pair<std::string, pb::PolicyFile>>& out) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    if (!is_dir(p)) {
      files.push_back(p);
      continue;
    }
    DIR* d = ::opendir(p.c_str());
    if (d == nullptr) {
      fail(command, p + ": cannot open policy directory");
      return false;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && policies::is_policy_file_name(e->d_name))
        names.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    if (names.empty()) {
      fail(command, p + ": no policy files (.textproto or .json)");
      return false;
    }
    for (const auto& n : names) files.push_back(p + "/" + n);
  }
  std::set<std::string> seen;
  for (const auto& f : files) {
    const std::string name = base_name(f);
    if (!policies::is_policy_file_name(name) || name[0] == '.') {
      fail(command, f + ": not a policy file name (.textproto, .txtpb, .pb.txt or .json)");
      return false;
    }
    if (!seen.insert(name).second) {
      fail(command, f + ": two files named " + name + "; a bundle is one flat directory");
      return false;
    }
    auto content = platform::read_file(f, policies::kMaxPolicyFileBytes);
    if (!content) {
      fail(command, content.error_message());
      return false;
    }
    pb::PolicyFile file;
    file.set_name(name);
    file.set_content(std::move(*content));
    out.emplace_back(f, std::move(file));
  }
  return true;
}

// ------------------------------------------------------------------------------ keygen

int keygen(const std::vector<std::string>& args) {
  auto a = parse_args("keygen", args, {"--out"}, {}, {});
  if (!a) return 2;
  if (!a->positional.empty())
    return usage_error("keygen", "unexpected argument " + a->positional[0]);
  if (!a->get("--out"))
    return usage_error("keygen", "--out PREFIX is required (writes PREFIX.key and PREFIX.pub)");
  const std::string prefix = *a->get("--out");
  const std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  for (const auto& p : {key_path, pub_path}) {
    if (exists(p)) return fail("keygen", p + " exists; refusing to overwrite a key");
  }
  auto key = platform::ecdsa_private_key::generate();
  if (!key) return fail("keygen", key.error_message());
  if (auto w = platform::save_private_key(key_path, *key); !w)
    return fail("keygen", w.error_message());
  if (auto w = platform::save_public_key(pub_path, key->public_key()); !w)
    return fail("keygen", w.error_message());
  std::cout << "ok: key " << key->public_key().key_id() << ": " << key_path
            << " (private, mode 0600), " << pub_path << " (public)\n";
  return 0;
}

// ------------------------------------------------------------------------------ keylist

int keylist(const std::vector<std::string>& args) {
  auto a = parse_args("keylist", args, {"--root", "--version", "--expires", "--new-root", "--out"},
                      {"--key"}, {});
  if (!a) return 2;
  if (!a->positional.empty())
    return usage_error("keylist", "unexpected argument " + a->positional[0]);
  for (const char* required : {"--root", "--version", "--expires", "--out"}) {
    if (!a->get(required)) return usage_error("keylist", std::string(required) + " is required");
  }
  if (a->all("--key").empty())
    return usage_error("keylist", "name at least one operator public key with --key PUB");
  const auto version = parse_positive(*a->get("--version"));
  if (!version)
    return usage_error(
        "keylist", "--version must be a positive integer, got \"" + *a->get("--version") + "\"");
  const auto lifetime = parse_duration(*a->get("--expires"));
  if (!lifetime) {
    return usage_error("keylist",
                       "--expires: expected a duration such as 365d, 12h or 90m, got \"" +
                           *a->get("--expires") + "\"");
  }

  auto root = platform::load_private_key(*a->get("--root"));
  if (!root) return fail("keylist", root.error_message());
  std::optional<platform::ecdsa_private_key> new_root;
  if (auto p = a->get("--new-root")) {
    auto k = platform::load_private_key(*p);
    if (!k) return fail("keylist", k.error_message());
    new_root = std::move(*k);
  }
  pb::KeyList list;
  list.set_version(*version);
  list.set_issued_at(now());
  list.set_expires_at(now() + *lifetime);
  for (const auto& path : a->all("--key")) {
    auto pub = platform::load_public_key(path);
    if (!pub) return fail("keylist", pub.error_message());
    auto* k = list.add_key();
    k->set_key_id(pub->key_id());
    k->set_public_key(pub->der());
  }
  auto bytes = policies::sign_key_list(list, *root, new_root ? &*new_root : nullptr);
  if (!bytes) return fail("keylist", bytes.error_message());

  // Check it as a gateway holding the signing root will.
  auto check =
      policies::update_key_list(policies::initial_trust_state(root->public_key()), *bytes, now());
  if (!check.accepted()) {
    return fail("keylist",
                std::string(policies::update_rejection_name(check.reason)) + ": " + check.detail);
  }
  if (auto w = platform::write_file_atomic(*a->get("--out"), *bytes, 0644); !w)
    return fail("keylist", w.error_message());
  std::cout << "ok: key list version " << *version << ", " << list.key_size()
            << " operator keys, signed by root " << root->public_key().key_id();
  if (new_root) std::cout << ", rotates the root to " << new_root->public_key().key_id();
  std::cout << ", expires " << iso_utc(list.expires_at()) << "\n";
  return 0;
}

// ------------------------------------------------------------------------------ sign

int sign(const std::vector<std::string>& args) {
  auto a = parse_args("sign", args, {"--key", "--sequence", "--expires", "--out", "--note"},
                      {"--gateway", "--class"}, {"--fleet"});
  if (!a) return 2;
  for (const char* required : {"--key", "--sequence", "--expires", "--out"}) {
    if (!a->get(required)) return usage_error("sign", std::string(required) + " is required");
  }
  const int targets =
      (a->has("--fleet") ? 1 : 0) + (a->has("--gateway") ? 1 : 0) + (a->has("--class") ? 1 : 0);
  if (targets != 1)
    return usage_error("sign", "choose one target: --fleet, --gateway ID... or --class CLASS...");
  if (a->positional.empty())
    return usage_error("sign", "name at least one policy file or directory");
  const auto sequence = parse_positive(*a->get("--sequence"));
  if (!sequence)
    return usage_error(
        "sign", "--sequence must be a positive integer, got \"" + *a->get("--sequence") + "\"");
  const auto lifetime = parse_duration(*a->get("--expires"));
  if (!lifetime) {
    return usage_error("sign", "--expires: expected a duration such as 30d, 12h or 90m, got \"" +
                                   *a->get("--expires") + "\"");
  }

  pb::PolicyBundle b;
  b.set_sequence(*sequence);
  b.set_issued_at(now());
  b.set_expires_at(now() + *lifetime);
  if (auto note = a->get("--note")) b.set_note(*note);
  if (a->has("--fleet")) b.mutable_target()->mutable_fleet();
  for (const auto& g : a->all("--gateway")) {
    if (!valid_topic_id(g))
      return usage_error("sign",
                         "gateway id \"" + g + "\" must be 1 to 64 letters, digits, '-' or '_'");
    b.mutable_target()->mutable_gateways()->add_gateway_id(g);
  }
  for (const auto& c : a->all("--class")) {
    if (c.empty()) return usage_error("sign", "--class needs a device class id");
    b.mutable_target()->mutable_device_classes()->add_device_class(c);
  }

  // The exact bytes to sign, compiled as the gateway will compile them (errors name the
  // operator's files).
  std::vector<std::pair<std::string, pb::PolicyFile>> files;
  if (!read_policy_files("sign", a->positional, files)) return 1;
  std::vector<policies::policy_source> sources;
  for (const auto& [path, file] : files) {
    auto src = policies::parse_policy_source(path, file.content());
    if (!src) {
      std::cerr << src.error_message() << "\n";
      return fail("sign", "the policy does not parse; nothing signed");
    }
    sources.push_back(std::move(*src));
  }
  auto compiled = policies::compile_policy(sources);
  for (const auto& e : compiled.errors) std::cerr << e << "\n";
  if (!compiled.errors.empty()) {
    return fail("sign", "the policy does not compile (" + std::to_string(compiled.errors.size()) +
                            (compiled.errors.size() == 1 ? " error" : " errors") +
                            "); nothing signed");
  }
  for (const auto& c : a->all("--class")) {
    if (compiled.policy->find_class(c) == nullptr) {
      std::cerr
          << "portier-policy sign: warning: device class \"" << c
          << "\" is not defined by this policy; it selects gateways by the policy they run now\n";
    }
  }
  for (auto& [path, file] : files) *b.add_file() = std::move(file);

  auto key = platform::load_private_key(*a->get("--key"));
  if (!key) return fail("sign", key.error_message());
  auto bytes = policies::sign_bundle(b, *key);
  if (!bytes) return fail("sign", bytes.error_message());
  if (bytes->size() > policies::kDefaultMaxBundleBytes) {
    return fail("sign", "the signed bundle is " + std::to_string(bytes->size()) +
                            " bytes, over the gateway's limit of " +
                            std::to_string(policies::kDefaultMaxBundleBytes));
  }
  if (auto w = platform::write_file_atomic(*a->get("--out"), *bytes, 0644); !w)
    return fail("sign", w.error_message());
  std::cout << "ok: sequence " << *sequence << ", " << b.file_size() << " files, targets "
            << policies::describe_target(b.target()) << "; key " << key->public_key().key_id()
            << ", expires " << iso_utc(b.expires_at()) << "\n";
  return 0;
}

// ------------------------------------------------------------------------------ verify

int verify(const std::vector<std::string>& args) {
  auto a = parse_args("verify", args, {"--root", "--gateway", "--applied"},
                      {"--keylist", "--current-policy"}, {});
  if (!a) return 2;
  if (!a->get("--root")) return usage_error("verify", "--root ROOT.pub is required");
  if (a->all("--keylist").empty()) return usage_error("verify", "--keylist FILE is required");
  if (a->positional.size() != 1) return usage_error("verify", "name exactly one bundle file");
  std::uint64_t applied = 0;
  if (auto s = a->get("--applied")) {
    auto n = parse_positive(*s);
    if (!n && *s != "0")
      return usage_error("verify", "--applied must be a sequence number, got \"" + *s + "\"");
    applied = n.value_or(0);
  }

  auto root = platform::load_public_key(*a->get("--root"));
  if (!root) return fail("verify", root.error_message());
  policies::trust_state state = policies::initial_trust_state(std::move(*root));
  // Key lists in the order a gateway would receive them.
  for (const auto& path : a->all("--keylist")) {
    auto bytes = platform::read_file(path, policies::kMaxKeyListBytes + 1);
    if (!bytes) return fail("verify", bytes.error_message());
    auto v = policies::update_key_list(state, *bytes, now());
    if (!v.accepted()) {
      std::cout << "rejected key list " << path << ": " << policies::update_rejection_name(v.reason)
                << ": " << v.detail << "\n";
      return 1;
    }
    state = std::move(*v.state);
  }
  state.applied_sequence = applied;

  const std::string path = a->positional[0];
  auto bytes = platform::read_file(path, policies::kDefaultMaxBundleBytes + 1);
  if (!bytes) return fail("verify", bytes.error_message());

  // Without --gateway the bundle is checked as a gateway it targets would check it; without
  // --current-policy, as one running the classes it selects.
  std::string gateway = a->get("--gateway").value_or("");
  std::vector<std::string> classes;
  pb::SignedPolicyBundle sb;
  pb::PolicyBundle b;
  const bool readable = sb.ParseFromString(*bytes) && b.ParseFromString(sb.bundle());
  if (gateway.empty() && readable && b.target().gateways().gateway_id_size() > 0) {
    gateway = b.target().gateways().gateway_id(0);
  }
  if (!a->all("--current-policy").empty()) {
    auto running = load_policy(a->all("--current-policy"));
    if (!running) return 1;
    classes = policies::class_ids(*running);
  } else if (readable) {
    for (const auto& c : b.target().device_classes().device_class()) classes.push_back(c);
  }

  auto v = policies::verify_bundle(state, *bytes, gateway, classes, now());
  if (!v.accepted()) {
    std::cout << "rejected: " << policies::update_rejection_name(v.reason) << ": " << v.detail
              << "\n";
    for (const auto& e : v.errors) std::cout << e << "\n";
    return 1;
  }
  std::cout << "ok: sequence " << v.bundle->sequence() << ", " << v.bundle->file_size()
            << " files, targets " << policies::describe_target(v.bundle->target()) << "; key "
            << v.key_id << ", expires " << iso_utc(v.bundle->expires_at()) << "\n";
  return 0;
}

}  // namespace

int update_command(const std::string& command, const std::vector<std::string>& args) {
  if (command == "keygen") return keygen(args);
  if (command == "keylist") return keylist(args);
  if (command == "sign") return sign(args);
  return verify(args);
}

}  // namespace portier::tools
