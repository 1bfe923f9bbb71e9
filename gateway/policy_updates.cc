#include "gateway/policy_updates.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "platform/ecdsa_p256.h"
#include "platform/file.h"
#include "platform/log.h"

namespace portier::gateway {

namespace {

constexpr std::size_t kMaxTrustFileBytes = 256 * 1024;

std::string trust_path(const std::string& state_dir) { return state_dir + "/trust.pb"; }

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
  return std::unique_ptr<policy_updates>(
      new policy_updates(state_dir, std::move(gateway_id), std::move(fleet), max_bundle_bytes, std::move(state)));
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
      out.already_in_force = v.reason == policies::update_rejection::rollback && v.version == state_.key_list_version;
      return out;
    }
    policies::trust_state previous = state_;
    state_ = std::move(*v.state);
    if (auto p = persist(); !p) {
      state_ = std::move(previous);
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
    out.already_in_force = v.reason == policies::update_rejection::rollback && v.sequence == state_.applied_sequence;
    return out;
  }
  if (auto w = write_bundle_files(*v.bundle); !w) {
    out.reason = "internal";
    out.detail = "cannot store the bundle's files: " + w.error_message();
    return out;
  }
  out.accepted = true;
  out.note = v.bundle->note();
  out.policy = std::move(v.policy);
  out.bundle = std::move(v.bundle);
  return out;
}

platform::result<bool> policy_updates::committed(const update_outcome& outcome) {
  if (!outcome.accepted || !outcome.bundle) return true;
  policies::record_applied(state_, *outcome.bundle);
  return persist();
}

}  // namespace portier::gateway
