// Every message is accounted for. Counters are declared once in the list below (adding one is
// one line); they are monotonic, thread-safe, and never hold a value a device sent.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "gateway/mqtt/tls_diagnosis.h"
#include "policies/drop_reason.h"

namespace portier::gateway {

#define PORTIER_GATEWAY_COUNTERS(X)                                                           \
  X(received, "messages read from the local broker")                                          \
  X(released, "releases the policy produced, all purposes")                                   \
  X(dropped, "messages that produced no release at all")                                      \
  X(published, "releases handed to the upstream client (including resends)")                 \
  X(acknowledged, "releases the upstream broker acknowledged (PUBACK)")                       \
  X(resent, "releases sent again after the upstream connection was lost before their PUBACK") \
  X(expired, "releases dropped unsent because they waited longer than their retention")      \
  X(local_connects, "successful connections to the local broker")                             \
  X(local_connect_failures, "failed connection attempts to the local broker")                 \
  X(upstream_connects, "successful connections to the upstream broker")                       \
  X(upstream_connect_failures, "failed connection attempts to the upstream broker")           \
  X(upstream_tls_failures, "upstream connects failed in TLS (per kind: portierctl status)")   \
  X(reloads, "successful configuration and policy reloads")                                   \
  X(reload_failures, "rejected reloads (the running policy stayed)")                          \
  X(spool_appended, "releases written to the spool")                                          \
  X(spool_refused_full, "releases stored beyond max_bytes + headroom (refuse_new)")           \
  X(spool_dropped_full, "unsent releases deleted to make room (drop_oldest)")                 \
  X(spool_purged, "waiting releases crypto-shredded by a consent withdrawal or erasure")      \
  X(spool_corrupt, "spool records skipped: bad checksum, framing or authentication tag")      \
  X(spool_torn_tails, "torn spool tails cut off at start-up (power cut during a write)")      \
  X(spool_recovered, "releases found waiting in the spool at start-up")                      \
  X(ingress_pauses, "times the ingress paused because the spool was full (refuse_new)")      \
  X(ingress_write_errors, "messages the spool could not store (QoS 0: lost, else redelivered)") \
  X(control_served, "control API requests answered")                                          \
  X(control_refused, "control API connections refused: neither root nor in the group")        \
  X(control_invalid, "control API requests rejected as malformed, oversized or invalid")      \
  X(control_failed, "control API requests that timed out or failed inside the daemon")        \
  X(control_busy, "control API connections and requests refused: too many at once")           \
  X(updates_applied, "remote policy bundles applied")                                         \
  X(updates_rejected, "remote policy bundles and key lists rejected (reason in the status)")   \
  X(devices_evicted, "devices forgotten to stay within devices.max_devices (they count as new again)") \
  X(ledger_minutes_dropped, "minutes of ledger aggregates dropped unwritten (the writer fell behind)") \
  X(ledger_access_dropped, "Access entries (the LAN page's requests, pairing) dropped unwritten (the writer fell behind)") \
  X(ledger_keys_evicted, "ledger device keys dropped to stay within devices.max_devices (entries unreadable)") \
  X(unmatched_shapes_evicted, "shapes of unmatched messages forgotten to stay within unmatched.max_shapes") \
  X(announcements_evicted, "announced state topics forgotten to stay within devices.max_announcements") \
  X(window_samples, "a message's samples for a purpose's aggregation window (instead of a release)") \
  X(windows_released, "aggregation windows released (each with one release into the spool)")      \
  X(windows_refused, "windows dropped at release: the purpose was refused, suspended or paused since") \
  X(windows_policy_changed, "window fields dropped: the policy changed how the field is aggregated") \
  X(windows_lost, "window releases lost: the spool did not take them before the stop")           \
  X(windows_rng_failures, "times the random source failed, so that no window could be released")  \
  X(windows_journal_torn, "torn window journal tails cut off at start-up (power cut during a write)") \
  X(windows_journal_corrupt, "window journal entries skipped at start-up: bad frame or authentication") \
  X(ha_pause_commands, "pause commands (ON) from Home Assistant's switch (each pauses, as portierctl pause)") \
  X(ha_resume_refused, "resume commands (OFF) from Home Assistant's switch, refused: only the household resumes") \
  X(ha_commands_invalid, "messages on Home Assistant's command topic that are no command, or retained: ignored")

struct counters {
#define PORTIER_DECLARE_COUNTER(name, help) std::atomic<std::uint64_t> name{0};
  PORTIER_GATEWAY_COUNTERS(PORTIER_DECLARE_COUNTER)
#undef PORTIER_DECLARE_COUNTER

  std::array<std::atomic<std::uint64_t>, policies::kDropReasonCount> drops{};
  std::array<std::atomic<std::uint64_t>, kTlsFailureKindCount> upstream_tls_by_kind{};

  void add_released(const std::string& purpose, std::uint64_t n = 1) {
    std::lock_guard lock(mu_);
    released_by_purpose_[purpose] += n;
  }
  std::map<std::string, std::uint64_t> released_by_purpose() const {
    std::lock_guard lock(mu_);
    return released_by_purpose_;
  }
  // Differential privacy: ε spent by window releases, per purpose, in millionths (never a value).
  void add_epsilon(const std::string& purpose, std::uint64_t micro) {
    std::lock_guard lock(mu_);
    epsilon_micro_by_purpose_[purpose] += micro;
  }
  std::map<std::string, std::uint64_t> epsilon_micro_by_purpose() const {
    std::lock_guard lock(mu_);
    return epsilon_micro_by_purpose_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> released_by_purpose_;
  std::map<std::string, std::uint64_t> epsilon_micro_by_purpose_;
};

}  // namespace portier::gateway
