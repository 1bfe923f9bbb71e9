#include "gateway/household/consent_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "consent.pb.h"
#include "gateway/digest.h"
#include "platform/crc32.h"
#include "platform/file.h"
#include "platform/log.h"
#include "platform/random.h"
#include "policies/json_text.h"

namespace portier::gateway {

namespace pb = ::portier::consent;

namespace {

constexpr char kMagic[4] = {'P', 'T', 'C', '1'};
constexpr std::size_t kHeaderBytes = 8;  // magic, CRC-32
constexpr char kFormat[] = "portier.consent.v1";
constexpr char kHashDomain[] = "portier.consent-receipt.v1";
constexpr std::size_t kMaxTitle = 256;
constexpr std::size_t kMaxDescription = 4096;
constexpr std::size_t kMaxPolicyName = 256;
constexpr std::size_t kMaxDeviceId = 256;
// A receipt is at most ~4.7 KiB of text; the rest is framing.
constexpr std::size_t kMaxReceiptBytes = 8 << 10;

bool id_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

bool valid_id(std::string_view id, std::size_t max) {
  return !id.empty() && id.size() <= max && id[0] >= 'a' && id[0] <= 'z' && std::all_of(id.begin(), id.end(), id_char);
}

// Quoted for an error message, without letting control bytes or a huge value through.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') ? c : '?';
  }
  if (s.size() > 64) out += "...";
  return out + "\"";
}

std::string check_purpose(std::string_view purpose) {
  if (valid_id(purpose, 32)) return {};
  return "purpose id " + quoted(purpose) + " must be 1 to 32 lower-case letters, digits or '-', starting with a letter";
}

std::string check_scope(consent_scope scope, std::string_view value) {
  switch (scope) {
    case consent_scope::household:
      return value.empty() ? std::string() : "the household scope takes no value";
    case consent_scope::device_class:
      if (valid_id(value, 48)) return {};
      return "device class id " + quoted(value) +
             " must be 1 to 48 lower-case letters, digits or '-', starting with a letter";
    case consent_scope::device:
      if (!value.empty() && value.size() <= kMaxDeviceId && value.find('\0') == std::string_view::npos &&
          policies::valid_utf8(value)) {
        return {};
      }
      return "a device id must be 1 to 256 bytes of UTF-8 without NUL";
  }
  return "unknown scope";
}

std::string check_method(std::string_view method) {
  const bool ok = !method.empty() && method.size() <= 32 && std::all_of(method.begin(), method.end(), [](char c) {
    return id_char(c) || c == '_' || c == '.';
  });
  return ok ? std::string() : "method " + quoted(method) + " must be 1 to 32 lower-case letters, digits, '-', '_' or '.'";
}

std::string check_text(std::string_view what, std::string_view text, std::size_t max) {
  if (text.size() > max) return std::string(what) + " is longer than " + std::to_string(max) + " bytes";
  if (!policies::valid_utf8(text)) return std::string(what) + " is not valid UTF-8";
  return {};
}

std::string check_shown(std::string_view method, const consent_shown& s) {
  for (auto e : {check_method(method), check_text("purpose title", s.purpose_title, kMaxTitle),
                 check_text("purpose description", s.purpose_description, kMaxDescription),
                 check_text("policy name", s.policy_name, kMaxPolicyName)}) {
    if (!e.empty()) return e;
  }
  return {};
}

pb::Scope to_pb(consent_scope s) {
  switch (s) {
    case consent_scope::household: return pb::SCOPE_HOUSEHOLD;
    case consent_scope::device_class: return pb::SCOPE_DEVICE_CLASS;
    case consent_scope::device: return pb::SCOPE_DEVICE;
  }
  return pb::SCOPE_UNSPECIFIED;
}

bool from_pb(pb::Scope s, consent_scope& out) {
  switch (s) {
    case pb::SCOPE_HOUSEHOLD: out = consent_scope::household; return true;
    case pb::SCOPE_DEVICE_CLASS: out = consent_scope::device_class; return true;
    case pb::SCOPE_DEVICE: out = consent_scope::device; return true;
    default: return false;
  }
}

pb::ReceiptDecision to_pb(receipt_decision d) {
  switch (d) {
    case receipt_decision::granted: return pb::RECEIPT_GRANTED;
    case receipt_decision::refused: return pb::RECEIPT_REFUSED;
    case receipt_decision::cleared: return pb::RECEIPT_CLEARED;
    case receipt_decision::paused: return pb::RECEIPT_PAUSED;
    case receipt_decision::resumed: return pb::RECEIPT_RESUMED;
  }
  return pb::RECEIPT_DECISION_UNSPECIFIED;
}

bool from_pb(pb::ReceiptDecision d, receipt_decision& out) {
  switch (d) {
    case pb::RECEIPT_GRANTED: out = receipt_decision::granted; return true;
    case pb::RECEIPT_REFUSED: out = receipt_decision::refused; return true;
    case pb::RECEIPT_CLEARED: out = receipt_decision::cleared; return true;
    case pb::RECEIPT_PAUSED: out = receipt_decision::paused; return true;
    case pb::RECEIPT_RESUMED: out = receipt_decision::resumed; return true;
    default: return false;
  }
}

void to_pb(const consent_receipt& r, pb::ConsentReceipt& out) {
  out.set_id(r.id);
  out.set_time_ms(r.time_ms);
  out.set_scope(to_pb(r.scope));
  out.set_scope_value(r.scope_value);
  out.set_purpose(r.purpose);
  out.set_decision(to_pb(r.decision));
  out.set_method(r.method);
  out.set_purpose_title(r.shown.purpose_title);
  out.set_purpose_description(r.shown.purpose_description);
  out.set_policy_name(r.shown.policy_name);
  out.set_policy_version(r.shown.policy_version);
  out.set_prev_hash(r.prev_hash);
  out.set_hash(r.hash);
}

// A receipt does not steer anything: one with unknown values is kept for verify_receipts() to
// report, rather than failing open().
void from_pb(const pb::ConsentReceipt& in, consent_receipt& r) {
  r.id = in.id();
  r.time_ms = in.time_ms();
  r.scope_value = in.scope_value();
  r.purpose = in.purpose();
  r.method = in.method();
  r.shown.purpose_title = in.purpose_title();
  r.shown.purpose_description = in.purpose_description();
  r.shown.policy_name = in.policy_name();
  r.shown.policy_version = in.policy_version();
  r.prev_hash = in.prev_hash();
  r.hash = in.hash();
  // An unknown value names itself "unknown" in the hash input, so the receipt fails its hash.
  if (!from_pb(in.scope(), r.scope)) r.scope = static_cast<consent_scope>(0xFF);
  if (!from_pb(in.decision(), r.decision)) r.decision = static_cast<receipt_decision>(0xFF);
}

void put_field(std::string& out, std::string_view v) {
  const auto n = static_cast<std::uint32_t>(v.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  out.append(v);
}

std::string frame(const std::string& body) {
  std::string out(kMagic, sizeof kMagic);
  const std::uint32_t crc = platform::crc32(body);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (8 * i)) & 0xFF);
  return out + body;
}

bool file_exists(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno != ENOENT) error = path + ": cannot stat: " + std::strerror(errno);
  return false;
}

}  // namespace

pb::Scope consent_scope_to_proto(consent_scope s) { return to_pb(s); }

void consent_receipt_to_proto(const consent_receipt& r, pb::ConsentReceipt& out) { to_pb(r, out); }

void consent_receipt_from_proto(const pb::ConsentReceipt& in, consent_receipt& out) {
  from_pb(in, out);
}

std::string_view consent_scope_name(consent_scope s) {
  switch (s) {
    case consent_scope::household: return "household";
    case consent_scope::device_class: return "device_class";
    case consent_scope::device: return "device";
  }
  return "unknown";
}

std::string_view receipt_decision_name(receipt_decision d) {
  switch (d) {
    case receipt_decision::granted: return "granted";
    case receipt_decision::refused: return "refused";
    case receipt_decision::cleared: return "cleared";
    case receipt_decision::paused: return "paused";
    case receipt_decision::resumed: return "resumed";
  }
  return "unknown";
}

std::string consent_receipt_hash(const consent_receipt& r) {
  std::string in = kHashDomain;
  put_field(in, r.id);
  put_field(in, std::to_string(r.time_ms));
  put_field(in, consent_scope_name(r.scope));
  put_field(in, r.scope_value);
  put_field(in, r.purpose);
  put_field(in, receipt_decision_name(r.decision));
  put_field(in, r.method);
  put_field(in, r.shown.purpose_title);
  put_field(in, r.shown.purpose_description);
  put_field(in, r.shown.policy_name);
  put_field(in, std::to_string(r.shown.policy_version));
  put_field(in, r.prev_hash);
  const digest256 d = sha256(in);
  return to_hex(d.data(), d.size());
}

consent_store::consent_store(consent_store_options options) : options_(std::move(options)) {
  options_.max_receipts = std::max<std::size_t>(options_.max_receipts, 1);
}

platform::result<std::unique_ptr<consent_store>> consent_store::open(consent_store_options options) {
  if (options.path.empty()) return platform::error{"consent store: no file given"};
  std::unique_ptr<consent_store> s(new consent_store(std::move(options)));
  if (auto r = s->load(); !r) return platform::error{r.error_message()};
  std::lock_guard lock(s->mu_);
  s->rebuild_snapshot_locked();
  return s;
}

platform::result<bool> consent_store::load() {
  const std::string& path = options_.path;
  std::string stat_error;
  if (!file_exists(path, stat_error)) {
    if (!stat_error.empty()) return platform::error{stat_error};
    fresh_ = true;
    return true;
  }
  // Not below the default: a file written under a higher limit must still open (the next change trims it).
  const std::size_t limit = (1u << 20) + std::max<std::size_t>(options_.max_receipts, 10'000) * kMaxReceiptBytes;
  auto content = platform::read_file(path, limit);
  if (!content) return platform::error{content.error_message()};
  const std::string& bytes = *content;
  const auto corrupt = [&](const std::string& why) {
    return platform::error{path + ": corrupt consent file (" + why + "); refusing to run without the household's consent"};
  };
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return corrupt("not a consent file: bad magic");
  }
  std::uint32_t crc = 0;
  for (int i = 3; i >= 0; --i) crc = (crc << 8) | static_cast<unsigned char>(bytes[4 + i]);
  const std::string_view body = std::string_view(bytes).substr(kHeaderBytes);
  if (platform::crc32(body) != crc) return corrupt("checksum mismatch");
  pb::ConsentState state;
  if (!state.ParseFromArray(body.data(), static_cast<int>(body.size()))) return corrupt("cannot be decoded");
  if (state.format() != kFormat) return corrupt("unknown format " + quoted(state.format()));

  for (int i = 0; i < state.decisions_size(); ++i) {
    const pb::Decision& d = state.decisions(i);
    consent_scope scope{};
    if (!from_pb(d.scope(), scope)) return corrupt("decision " + std::to_string(i) + ": unknown scope");
    std::string why = check_scope(scope, d.scope_value());
    if (why.empty()) why = check_purpose(d.purpose());
    if (!why.empty()) return corrupt("decision " + std::to_string(i) + ": " + why);
    decisions_[{scope, d.scope_value(), d.purpose()}] = {d.granted(), d.decided_at_ms(), d.receipt_id()};
  }
  paused_ = state.paused();
  for (const auto& in : state.receipts()) {
    consent_receipt r;
    from_pb(in, r);
    receipts_.push_back(std::move(r));
  }
  anchor_hash_ = state.anchor_hash();
  dropped_receipts_ = state.dropped_receipts();
  if (auto check = verify_locked(); !check.ok) {
    platform::log_warning("consent store: ", path, ": receipt ", check.first_bad, " (", check.receipt_id,
                          ") is broken: ", check.reason);
  }
  return true;
}

std::string consent_store::last_hash_locked() const {
  return receipts_.empty() ? anchor_hash_ : receipts_.back().hash;
}

platform::result<consent_receipt> consent_store::make_receipt_locked(
    consent_scope scope, std::string_view value, std::string_view purpose, receipt_decision d, std::string_view method,
    const consent_shown& shown, std::int64_t now_ms, const std::string& prev_hash) const {
  std::uint8_t id[16];
  if (auto r = platform::random_bytes(id); !r) return platform::error{"consent receipt id: " + r.error_message()};
  consent_receipt out;
  out.id = to_hex(id, sizeof id);
  out.time_ms = now_ms;
  out.scope = scope;
  out.scope_value = value;
  out.purpose = purpose;
  out.decision = d;
  out.method = method;
  out.shown = shown;
  out.prev_hash = prev_hash;
  out.hash = consent_receipt_hash(out);
  return out;
}

platform::result<bool> consent_store::commit_locked(decision_map decisions, bool paused,
                                                    std::vector<consent_receipt> added) {
  const std::size_t total = receipts_.size() + added.size();
  const std::size_t drop = total > options_.max_receipts ? total - options_.max_receipts : 0;
  const auto receipt_at = [&](std::size_t i) -> const consent_receipt& {
    return i < receipts_.size() ? receipts_[i] : added[i - receipts_.size()];
  };
  const std::string anchor = drop > 0 ? receipt_at(drop - 1).hash : anchor_hash_;

  pb::ConsentState state;
  state.set_format(kFormat);
  for (const auto& [key, rec] : decisions) {
    pb::Decision* d = state.add_decisions();
    d->set_scope(to_pb(std::get<0>(key)));
    d->set_scope_value(std::get<1>(key));
    d->set_purpose(std::get<2>(key));
    d->set_granted(rec.granted);
    d->set_decided_at_ms(rec.decided_at_ms);
    d->set_receipt_id(rec.receipt_id);
  }
  state.set_paused(paused);
  for (std::size_t i = drop; i < total; ++i) to_pb(receipt_at(i), *state.add_receipts());
  state.set_anchor_hash(anchor);
  state.set_dropped_receipts(dropped_receipts_ + drop);
  std::string body;
  if (!state.SerializeToString(&body)) return platform::error{options_.path + ": cannot encode the consent state"};
  if (auto w = platform::write_file_atomic(options_.path, frame(body), 0600); !w) {
    return platform::error{w.error_message()};
  }

  decisions_ = std::move(decisions);
  paused_ = paused;
  for (auto& r : added) receipts_.push_back(std::move(r));
  for (std::size_t i = 0; i < drop; ++i) receipts_.pop_front();
  anchor_hash_ = anchor;
  dropped_receipts_ += drop;
  fresh_ = false;
  rebuild_snapshot_locked();
  return true;
}

void consent_store::rebuild_snapshot_locked() {
  auto s = std::make_shared<policies::consent_snapshot>();
  s->set_paused(paused_);
  for (const auto& [key, rec] : decisions_) {
    const auto d = rec.granted ? policies::consent_decision::granted : policies::consent_decision::refused;
    const auto& [scope, value, purpose] = key;
    switch (scope) {
      case consent_scope::household: s->set_household(purpose, d); break;
      case consent_scope::device_class: s->set_class(value, purpose, d); break;
      case consent_scope::device: s->set_device(value, purpose, d); break;
    }
  }
  snapshot_ = std::move(s);
}

platform::result<std::vector<consent_receipt>> consent_store::seed(
    std::span<const std::string> grants, std::span<const std::string> refusals,
    const std::function<consent_shown(std::string_view purpose)>& shown, std::int64_t now_ms, std::string_view method) {
  std::map<std::string, bool> wanted;
  for (const auto& p : grants) wanted[p] = true;
  for (const auto& p : refusals) wanted[p] = false;
  for (const auto& [purpose, granted] : wanted) {
    if (auto e = check_purpose(purpose); !e.empty()) return platform::error{"consent seed: " + e};
  }
  if (auto e = check_method(method); !e.empty()) return platform::error{"consent seed: " + e};

  std::map<std::string, consent_shown> texts;  // asked before locking: `shown` may be anything
  for (const auto& [purpose, granted] : wanted) {
    consent_shown& t = texts[purpose];
    if (shown) t = shown(purpose);
    if (auto e = check_shown(method, t); !e.empty()) return platform::error{"consent seed: " + purpose + ": " + e};
  }

  std::lock_guard lock(mu_);
  if (!fresh_) return std::vector<consent_receipt>{};
  decision_map decisions = decisions_;
  std::vector<consent_receipt> added;
  std::string prev = last_hash_locked();
  for (const auto& [purpose, granted] : wanted) {
    auto r = make_receipt_locked(consent_scope::household, "", purpose,
                                 granted ? receipt_decision::granted : receipt_decision::refused, method,
                                 texts[purpose], now_ms, prev);
    if (!r) return platform::error{r.error_message()};
    decisions[{consent_scope::household, std::string(), purpose}] = {granted, now_ms, r->id};
    prev = r->hash;
    added.push_back(std::move(*r));
  }
  std::vector<consent_receipt> out = added;
  if (auto c = commit_locked(std::move(decisions), paused_, std::move(added)); !c) {
    return platform::error{c.error_message()};
  }
  return out;
}

platform::result<consent_receipt> consent_store::decide(consent_scope scope, std::string_view scope_value,
                                                        std::string_view purpose, consent_choice choice,
                                                        std::string_view method, const consent_shown& shown,
                                                        std::int64_t now_ms) {
  for (auto e : {check_scope(scope, scope_value), check_purpose(purpose), check_shown(method, shown)}) {
    if (!e.empty()) return platform::error{e};
  }
  const receipt_decision made = choice == consent_choice::grant    ? receipt_decision::granted
                                : choice == consent_choice::refuse ? receipt_decision::refused
                                                                   : receipt_decision::cleared;
  std::lock_guard lock(mu_);
  auto r = make_receipt_locked(scope, scope_value, purpose, made, method, shown, now_ms, last_hash_locked());
  if (!r) return r;
  decision_map decisions = decisions_;
  decision_key key{scope, std::string(scope_value), std::string(purpose)};
  if (choice == consent_choice::clear) {
    decisions.erase(key);
  } else {
    decisions[std::move(key)] = {choice == consent_choice::grant, now_ms, r->id};
  }
  if (auto c = commit_locked(std::move(decisions), paused_, {*r}); !c) return platform::error{c.error_message()};
  return r;
}

platform::result<std::optional<consent_receipt>> consent_store::pause(std::string_view method,
                                                                     const consent_shown& shown, std::int64_t now_ms) {
  return set_paused(true, method, shown, now_ms);
}

platform::result<std::optional<consent_receipt>> consent_store::resume(std::string_view method,
                                                                      const consent_shown& shown, std::int64_t now_ms) {
  return set_paused(false, method, shown, now_ms);
}

platform::result<std::optional<consent_receipt>> consent_store::set_paused(bool paused, std::string_view method,
                                                                          const consent_shown& shown,
                                                                          std::int64_t now_ms) {
  if (auto e = check_shown(method, shown); !e.empty()) return platform::error{e};
  std::lock_guard lock(mu_);
  if (paused_ == paused) return std::optional<consent_receipt>{};
  auto r = make_receipt_locked(consent_scope::household, "", "",
                               paused ? receipt_decision::paused : receipt_decision::resumed, method, shown, now_ms,
                               last_hash_locked());
  if (!r) return platform::error{r.error_message()};
  if (auto c = commit_locked(decisions_, paused, {*r}); !c) return platform::error{c.error_message()};
  return std::optional<consent_receipt>(std::move(*r));
}

std::shared_ptr<const policies::consent_snapshot> consent_store::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

bool consent_store::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

std::vector<consent_entry> consent_store::decisions() const {
  std::lock_guard lock(mu_);
  std::vector<consent_entry> out;
  out.reserve(decisions_.size());
  for (const auto& [key, rec] : decisions_) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), rec.granted, rec.decided_at_ms, rec.receipt_id});
  }
  return out;
}

std::vector<consent_receipt> consent_store::receipts() const {
  std::lock_guard lock(mu_);
  return {receipts_.begin(), receipts_.end()};
}

std::string consent_store::receipts_anchor() const {
  std::lock_guard lock(mu_);
  return anchor_hash_;
}

receipt_check consent_store::verify_receipts() const {
  std::lock_guard lock(mu_);
  return verify_locked();
}

receipt_check consent_store::verify_locked() const {
  receipt_check out;
  std::string prev = anchor_hash_;
  for (std::size_t i = 0; i < receipts_.size(); ++i) {
    const consent_receipt& r = receipts_[i];
    std::string why;
    if (r.prev_hash != prev) {
      why = i == 0 ? "does not chain onto the anchor: receipts before it were removed or changed"
                   : "does not chain onto the receipt before it: one was removed, inserted or reordered";
    } else if (consent_receipt_hash(r) != r.hash) {
      why = "content does not match its hash: it was edited";
    }
    if (!why.empty()) {
      out.ok = false;
      out.first_bad = i;
      out.receipt_id = r.id;
      out.reason = std::move(why);
      return out;
    }
    prev = r.hash;
    ++out.count;
  }
  return out;
}

}  // namespace portier::gateway
