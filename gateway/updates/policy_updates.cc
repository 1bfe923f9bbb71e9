#include "gateway/updates/policy_updates.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "gateway/digest.h"
#include "platform/ecdsa_p256.h"
#include "platform/file.h"
#include "platform/log.h"

namespace portier::gateway {

namespace {

constexpr std::size_t kMaxTrustFileBytes = 256 * 1024;

std::string trust_path(const std::string& state_dir) { return state_dir + "/trust.pb"; }
std::string in_force_path(const std::string& state_dir) { return state_dir + "/in-force"; }

std::string sha256_hex(std::string_view bytes) {
  const digest256 d = sha256(bytes);
  return to_hex(d.data(), d.size());
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

platform::result<std::unique_ptr<policy_updates>> policy_updates::open(const std::string& state_dir,
                                                                       const std::string& root_key_file,
                                                                       std::string gateway_id, std::string fleet,
                                                                       std::size_t max_bundle_bytes) {
  auto root = platform::load_public_key(root_key_file);
  if (!root) return platform::error{root.error_message()};
  policies::trust_state state = policies::initial_trust_state(*root);
  if (auto text = platform::read_file(trust_path(state_dir), kMaxTrustFileBytes)) {
    bundle::TrustState proto;
    if (!proto.ParseFromString(*text)) return platform::error{trust_path(state_dir) + ": not a trust state"};
    auto loaded = policies::trust_state_from_proto(proto);
    if (!loaded) return platform::error{trust_path(state_dir) + ": " + loaded.error_message()};
    state = std::move(*loaded);
  } else if (errno != ENOENT) {
    return platform::error{text.error_message()};
  }
  std::unique_ptr<policy_updates> u(
      new policy_updates(state_dir, std::move(gateway_id), std::move(fleet), max_bundle_bytes, std::move(state)));
  // "key-list VERSION SHA256" and "bundle SEQUENCE SHA256" lines; anything else is ignored (the
  // file only decides whether a redelivery is reported quietly).
  if (auto text = platform::read_file(in_force_path(state_dir), 4096)) {
    std::istringstream lines(*text);
    std::string kind, sha;
    std::uint64_t number = 0;
    while (lines >> kind >> number >> sha) {
      if (!is_sha256_hex(sha)) continue;
      if (kind == "key-list") {
        u->in_force_.key_list_version = number;
        u->in_force_.key_list_sha256 = sha;
      } else if (kind == "bundle") {
        u->in_force_.bundle_sequence = number;
        u->in_force_.bundle_sha256 = sha;
      }
    }
  }
  return u;
}

std::vector<std::string> policy_updates::topics() const {
  std::vector<std::string> t = {"portier/" + gateway_id_ + "/policy", "portier/" + gateway_id_ + "/keys"};
  if (!fleet_.empty()) {
    t.push_back("portier/fleet/" + fleet_ + "/policy");
    t.push_back("portier/fleet/" + fleet_ + "/keys");
  }
  return t;
}

bool policy_updates::is_update_topic(std::string_view topic) const {
  for (const auto& t : topics()) {
    if (t == topic) return true;
  }
  return false;
}

platform::result<bool> policy_updates::persist() const {
  return platform::write_file_atomic(trust_path(state_dir_), policies::trust_state_to_proto(state_).SerializeAsString(),
                                     0600);
}

platform::result<bool> policy_updates::persist_in_force(const in_force& f) const {
  std::string text;
  if (!f.key_list_sha256.empty()) {
    text += "key-list " + std::to_string(f.key_list_version) + " " + f.key_list_sha256 + "\n";
  }
  if (!f.bundle_sha256.empty()) {
    text += "bundle " + std::to_string(f.bundle_sequence) + " " + f.bundle_sha256 + "\n";
  }
  return platform::write_file_atomic(in_force_path(state_dir_), text, 0600);
}

bool policy_updates::same_as_in_force(std::uint64_t number, std::string_view payload, bool key_list,
                                      update_outcome& out) {
  const std::string sha = sha256_hex(payload);
  std::uint64_t& known_number = key_list ? in_force_.key_list_version : in_force_.bundle_sequence;
  std::string& known = key_list ? in_force_.key_list_sha256 : in_force_.bundle_sha256;
  if (known_number != number || known.empty()) {
    known_number = number;
    known = sha;
    if (auto w = persist_in_force(in_force_); !w) platform::log_warning("remote update: ", w.error_message());
    return true;
  }
  if (known == sha) return true;
  out.detail = key_list ? "a different key list with version " + std::to_string(number) +
                              " is in force; sign the new list with a higher version"
                        : "a different bundle with sequence " + std::to_string(number) +
                              " is in force; sign the new bundle with a higher sequence";
  return false;
}

platform::result<bool> policy_updates::write_bundle_files(const bundle::PolicyBundle& b) const {
  namespace fs = std::filesystem;
  const std::string dir = bundle_dir(state_dir_);
  const std::string fresh = dir + ".new";
  const std::string old = dir + ".old";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  fs::remove_all(old, ec);
  if (::mkdir(fresh.c_str(), 0700) != 0) return platform::error{fresh + ": " + std::strerror(errno)};
  for (const auto& f : b.file()) {
    // Names were validated by the verifier: plain file names, no '/', no leading '.'.
    if (auto w = platform::write_file_atomic(fresh + "/" + f.name(), f.content(), 0600); !w) return w;
  }
  if (fs::exists(dir)) fs::rename(dir, old, ec);
  if (ec) return platform::error{dir + ": cannot move aside: " + ec.message()};
  fs::rename(fresh, dir, ec);
  if (ec) return platform::error{dir + ": cannot install: " + ec.message()};
  fs::remove_all(old, ec);
  return true;
}

update_outcome policy_updates::handle(std::string_view topic, std::string_view payload,
                                      const policies::compiled_policy& running, std::int64_t now_s) {
  update_outcome out;
  const bool keys = topic.size() >= 5 && topic.substr(topic.size() - 5) == "/keys";
  if (keys) {
    out.what = update_outcome::kind::key_list;
    auto v = policies::update_key_list(state_, payload, now_s);
    out.number = v.version;
    out.detail = v.detail;
    if (!v.accepted()) {
      out.reason = std::string(policies::update_rejection_name(v.reason));
      out.already_in_force = v.reason == policies::update_rejection::rollback && v.version != 0 &&
                             v.version == state_.key_list_version &&
                             same_as_in_force(v.version, payload, true, out);
      return out;
    }
    // The digest first: after a power cut between the two writes, the list is accepted again.
    const in_force previous_in_force = in_force_;
    in_force_.key_list_version = v.version;
    in_force_.key_list_sha256 = sha256_hex(payload);
    if (auto w = persist_in_force(in_force_); !w) platform::log_warning("remote update: ", w.error_message());
    policies::trust_state previous = state_;
    state_ = std::move(*v.state);
    if (auto p = persist(); !p) {
      state_ = std::move(previous);
      in_force_ = previous_in_force;
      (void)persist_in_force(in_force_);
      out.reason = "internal";
      out.detail = "cannot persist the trust state: " + p.error_message();
      return out;
    }
    out.accepted = true;
    return out;
  }
  out.what = update_outcome::kind::bundle;
  const auto classes = policies::class_ids(running);
  auto v = policies::verify_bundle(state_, payload, gateway_id_, classes, now_s, max_bytes_);
  out.number = v.sequence;
  out.detail = v.detail;
  out.errors = std::move(v.errors);
  if (!v.accepted()) {
    out.reason = std::string(policies::update_rejection_name(v.reason));
    out.already_in_force = v.reason == policies::update_rejection::rollback && v.sequence != 0 &&
                           v.sequence == state_.applied_sequence &&
                           same_as_in_force(v.sequence, payload, false, out);
    return out;
  }
  if (auto w = write_bundle_files(*v.bundle); !w) {
    out.reason = "internal";
    out.detail = "cannot store the bundle's files: " + w.error_message();
    return out;
  }
  out.accepted = true;
  accepted_bundle_sha256_ = sha256_hex(payload);
  out.note = v.bundle->note();
  out.policy = std::move(v.policy);
  out.bundle = std::move(v.bundle);
  return out;
}

platform::result<bool> policy_updates::committed(const update_outcome& outcome) {
  if (!outcome.accepted || !outcome.bundle) return true;
  policies::record_applied(state_, *outcome.bundle);
  // The digest first: after a power cut between the two writes, the bundle is applied again.
  in_force_.bundle_sequence = state_.applied_sequence;
  in_force_.bundle_sha256 = accepted_bundle_sha256_;
  if (auto w = persist_in_force(in_force_); !w) platform::log_warning("remote update: ", w.error_message());
  return persist();
}

}  // namespace portier::gateway
