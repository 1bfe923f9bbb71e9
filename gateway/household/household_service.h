// The household's side of the control API: what portierctl (and a LAN page) can ask the daemon.
// It reads the running policy, the consent store, the ledger, the device registry and the spool,
// and changes consent: a change is stored (with its receipt) before it takes effect, takes
// effect before the next message is evaluated, and a withdrawal then purges what waits in the
// spool and in aggregation windows for that purpose and scope. Erasure purges the spool, the
// windows and the ledger for a device and
// asks upstream to erase it too; it also forgets the shapes of unmatched messages, since which of
// them came from the device cannot be told.
//
// The LAN page: `pair` makes a one-time code (pairing_codes.h), which the page trades for a
// session with `redeem_pairing`; `web_announce` tells where the page listens and its
// certificate's fingerprint (kept in memory, shown by `status` and `pair`). Every request with
// method "web" (but a web_announce that repeats the last one), and every pair and
// redeem_pairing, leaves an Access entry in the ledger (method, command, ok: never a value, never
// a code).
//
// Threading: the control server calls handle() from its one thread; the Home Assistant link
// calls it from its own, and both go through one serialized_service, so calls never overlap.
// Explanations use an evaluator of their own (the ingress's is not shared), rebuilt when the policy
// changes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "control.pb.h"
#include "gateway/counters.h"
#include "gateway/device_registry.h"
#include "gateway/gateway_config.h"
#include "gateway/household/consent_store.h"
#include "gateway/household/control_server.h"
#include "gateway/household/pairing_codes.h"
#include "gateway/pipeline.h"
#include "gateway/store/ledger.h"
#include "gateway/store/spool.h"
#include "gateway/store/unmatched_shapes.h"
#include "gateway/store/window_store.h"
#include "policies/evaluator.h"

namespace portier::gateway {

struct household_context {
  const gateway_config* config = nullptr;
  counters* stats = nullptr;
  pipeline* pipe = nullptr;
  spool* store = nullptr;
  consent_store* consent = nullptr;
  ledger* record = nullptr;
  device_registry* devices = nullptr;
  unmatched_shapes* unmatched = nullptr;  // may be null: no shapes are kept
  window_store* windows = nullptr;        // may be null: no aggregation windows
  // What devices announced (ESPHome, Home Assistant), read by explain as by the message path.
  policies::announcement_table* announcements = nullptr;
  policies::engine_identity identity;
  std::chrono::steady_clock::time_point started;
  std::function<bool()> local_connected;
  std::function<bool()> upstream_connected;
  // Publishes at QoS 1 upstream and waits for the PUBACK (bounded); false if not acknowledged.
  std::function<bool(const std::string& topic, const std::string& payload)> publish;
  // Random bytes for pairing codes; empty: the platform's CTR-DRBG, seeded from the system.
  pairing_codes::random_fill random;
};

class household_service : public control_service {
 public:
  explicit household_service(household_context ctx);
  control::Response handle(const control::Request& request) override;

 private:
  control::Response status();
  control::Response devices();
  control::Response purposes();
  control::Response set_consent(const control::SetConsentRequest& r, const std::string& method);
  control::Response pause(bool on, const std::string& method);
  control::Response report(const control::ReportRequest& r);
  control::Response explain(const control::ExplainRequest& r);
  control::Response export_ledger();
  control::Response erase(const control::EraseRequest& r);
  control::Response verify_ledger();
  control::Response unmatched(const control::UnmatchedRequest& r);
  control::Response pair();
  control::Response redeem_pairing(const control::RedeemPairingRequest& r);
  control::Response web_announce(const control::WebAnnounceRequest& r);
  control::Response policy_history(const control::PolicyHistoryRequest& r);
  control::Response answer(const control::Request& request);
  // Whether `a` says what the page announced last.
  bool announced(const control::WebAnnounceRequest& a) const;

  // The running policy, and an evaluator over it for one request.
  std::shared_ptr<const policies::compiled_policy> policy();
  std::unique_ptr<policies::evaluator> explainer();
  consent_shown shown(const policies::compiled_purpose* p) const;

  household_context ctx_;
  pairing_codes codes_;
  struct web_page {
    std::vector<std::string> urls;
    std::string fingerprint_sha256;
  };
  mutable std::mutex web_mu_;  // status may be asked from elsewhere than the control thread
  web_page web_;
};

}  // namespace portier::gateway
