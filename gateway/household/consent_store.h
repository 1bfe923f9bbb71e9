// The household's consent: explicit decisions per (scope, purpose), a household-wide pause, and a
// chain of consent receipts, all kept in one file (proto/consent.proto describes the format).
//
// Contract:
//  - A change (decide, pause, resume, seed) is written to the file — atomic replace with fsync,
//    mode 0600 — before it returns. If the write fails the change is not applied: memory, file
//    and snapshot stay as they were, and the caller gets the error.
//  - snapshot() is what the engine reads. It is rebuilt on every change and fetching it is a
//    shared_ptr copy; install the new one in the pipeline after each change.
//  - Scopes: household (value empty), device class (a class id), device (a device id as captured
//    from its topic). The snapshot's lookup makes the most specific decision win. Clearing removes
//    a scope's decision, so a wider scope or the purpose's default applies again. Pause refuses
//    everything and leaves the decisions untouched; resume brings them back as they were.
//  - Every change yields a receipt: what was decided, when, how, and the purpose text and policy
//    version the household was shown (passed in by the caller, who knows the running policy).
//    Receipts are hash-chained. The newest `max_receipts` are kept; the hash of the newest dropped
//    one stays as the anchor, so what is kept still verifies. Re-granting a granted purpose is a
//    change too (e.g. after the purpose's text changed): it gets its own receipt.
//  - seed() applies a vendor's preset consent as ordinary decisions with receipts, but only on the
//    first start (the file did not exist when the store was opened). Afterwards the household's
//    choices stand and the presets are ignored.
//  - open() fails with an error naming the file when it exists but cannot be read or is corrupt
//    (bad magic, checksum, encoding or content). The daemon must then refuse to start: running
//    without the household's consent is not an option. A broken receipt chain is not fatal (the
//    decisions do not depend on it); verify_receipts() reports it and open() logs it.
//  - Validated input: purpose ids as in policies (1 to 32 of a-z, 0-9, '-', starting with a
//    letter), class ids likewise (up to 48), device ids 1 to 256 bytes of UTF-8 without NUL,
//    methods 1 to 32 of a-z, 0-9, '-', '_', '.', and bounded, UTF-8 texts. Errors never repeat a
//    device id (it may say who lives here).
//
// Threading: every method is thread-safe (one mutex). Changes do file I/O under it; they are rare
// and human-driven. snapshot() does none.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "consent.pb.h"
#include <tuple>
#include <vector>

#include "platform/result.h"
#include "policies/consent_snapshot.h"

namespace portier::gateway {

enum class consent_scope : std::uint8_t { household, device_class, device };

// What the household asks for in decide().
enum class consent_choice : std::uint8_t {
  grant,   // the purpose may receive data in this scope
  refuse,  // it may not
  clear,   // forget this scope's decision: a wider scope or the purpose's default decides
};

// What a receipt records.
enum class receipt_decision : std::uint8_t { granted, refused, cleared, paused, resumed };

// Stable names, used in the receipts' hash input and in exports.
std::string_view consent_scope_name(consent_scope s);
std::string_view receipt_decision_name(receipt_decision d);

// What the household was shown when deciding: from the running policy.
struct consent_shown {
  std::string purpose_title;        // up to 256 bytes
  std::string purpose_description;  // up to 4096 bytes
  std::string policy_name;          // up to 256 bytes
  std::uint64_t policy_version = 0;
};

// A consent receipt (Kantara Consent Receipt / ISO/IEC TS 27560). proto/consent.proto defines
// the hash.
struct consent_receipt {
  std::string id;  // 32 hex characters, random
  std::int64_t time_ms = 0;
  consent_scope scope = consent_scope::household;
  std::string scope_value;  // empty for the household
  std::string purpose;      // empty for paused and resumed
  receipt_decision decision = receipt_decision::granted;
  std::string method;  // "cli", "web", "config", ...
  consent_shown shown;
  std::string prev_hash;  // hex; empty for the first receipt ever
  std::string hash;       // hex
};

// The stored (and exported) form of a scope and of a receipt.
::portier::consent::Scope consent_scope_to_proto(consent_scope s);
void consent_receipt_to_proto(const consent_receipt& r, ::portier::consent::ConsentReceipt& out);
// Back from the stored form. A value it does not know becomes one that names itself "unknown"
// (and so fails the receipt's hash): a receipt is shown, never trusted blindly.
void consent_receipt_from_proto(const ::portier::consent::ConsentReceipt& in, consent_receipt& out);

// The canonical hash of a receipt (every field but `hash` itself), lower-case hex.
std::string consent_receipt_hash(const consent_receipt& r);

struct consent_entry {
  consent_scope scope = consent_scope::household;
  std::string scope_value;
  std::string purpose;
  bool granted = false;  // false: refused
  std::int64_t decided_at_ms = 0;
  std::string receipt_id;  // the receipt that records it (may have been dropped since)
};

struct receipt_check {
  bool ok = true;
  std::size_t count = 0;      // receipts checked (all of them when ok)
  std::size_t first_bad = 0;  // when !ok: index in receipts() of the first broken receipt
  std::string receipt_id;     // ... and its id
  std::string reason;         // e.g. "content does not match its hash"
};

struct consent_store_options {
  std::string path;  // e.g. state_dir + "/consent.pb"; its directory must exist
  std::size_t max_receipts = 10'000;
};

class consent_store {
 public:
  static platform::result<std::unique_ptr<consent_store>> open(consent_store_options options);

  // First start only: grants then refusals (a purpose in both ends refused), household-wide, one
  // receipt each, written in one go; with nothing to apply the file is still created, so a later
  // start does not seed. `shown` gives the texts of each purpose. Returns the receipts made
  // (none when this is not the first start).
  platform::result<std::vector<consent_receipt>> seed(
      std::span<const std::string> grants, std::span<const std::string> refusals,
      const std::function<consent_shown(std::string_view purpose)>& shown, std::int64_t now_ms,
      std::string_view method = "config");

  platform::result<consent_receipt> decide(consent_scope scope, std::string_view scope_value,
                                           std::string_view purpose, consent_choice choice,
                                           std::string_view method, const consent_shown& shown,
                                           std::int64_t now_ms);
  // Household-wide; `shown` normally carries only the policy name and version. Pausing a paused
  // home (resuming a running one) changes nothing and makes no receipt: nullopt.
  platform::result<std::optional<consent_receipt>> pause(std::string_view method, const consent_shown& shown,
                                                         std::int64_t now_ms);
  platform::result<std::optional<consent_receipt>> resume(std::string_view method, const consent_shown& shown,
                                                          std::int64_t now_ms);

  std::shared_ptr<const policies::consent_snapshot> snapshot() const;
  bool paused() const;
  // The explicit decisions, ordered by scope, value, purpose.
  std::vector<consent_entry> decisions() const;
  // The kept receipts, oldest first.
  std::vector<consent_receipt> receipts() const;
  // The hash the oldest kept receipt chains on: empty unless receipts were dropped.
  std::string receipts_anchor() const;
  receipt_check verify_receipts() const;
  const std::string& path() const { return options_.path; }

 private:
  using decision_key = std::tuple<consent_scope, std::string, std::string>;  // scope, value, purpose
  struct recorded {
    bool granted = false;
    std::int64_t decided_at_ms = 0;
    std::string receipt_id;
  };
  using decision_map = std::map<decision_key, recorded>;

  explicit consent_store(consent_store_options options);
  platform::result<bool> load();
  platform::result<consent_receipt> make_receipt_locked(consent_scope scope, std::string_view value,
                                                        std::string_view purpose, receipt_decision d,
                                                        std::string_view method, const consent_shown& shown,
                                                        std::int64_t now_ms, const std::string& prev_hash) const;
  // Writes the state that results from `decisions`, `paused` and the receipts so far plus
  // `added`; on success makes it the current state.
  platform::result<bool> commit_locked(decision_map decisions, bool paused, std::vector<consent_receipt> added);
  platform::result<std::optional<consent_receipt>> set_paused(bool paused, std::string_view method,
                                                              const consent_shown& shown, std::int64_t now_ms);
  std::string last_hash_locked() const;
  receipt_check verify_locked() const;
  void rebuild_snapshot_locked();

  consent_store_options options_;
  mutable std::mutex mu_;
  bool fresh_ = false;  // the file did not exist at open(); nothing committed since
  decision_map decisions_;
  bool paused_ = false;
  std::deque<consent_receipt> receipts_;
  std::string anchor_hash_;
  std::uint64_t dropped_receipts_ = 0;
  std::shared_ptr<const policies::consent_snapshot> snapshot_;
};

}  // namespace portier::gateway
