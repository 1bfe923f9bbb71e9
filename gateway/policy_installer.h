// Puts a new policy in force (SIGHUP reload, or an accepted remote bundle), with what that takes
// beyond the swap:
//  - a purpose the new policy would run by default, which the old one kept refused and the
//    household never decided on, stays refused: a consent decision "policy-update" is recorded
//    (an operator can restrict, never widen, what the household allowed);
//  - the evaluator is swapped (pipeline::install: the next message is evaluated wholly by it);
//  - a purpose whose daily ε cap the new policy raises (policies::raised_caps) is a change that
//    widens what is released: it is logged, recorded in the ledger with the policy change, and
//    kept with the budgets (window_store::note_cap_raise) so that `portierctl purposes` shows it;
//  - what waits in the spool and in aggregation windows for a purpose the policy suspends is
//    crypto-shredded;
//  - the local subscriptions follow the new topic filters;
//  - the change is recorded in the ledger, with what it changed in what each purpose receives
//    from each device class and whether that widens (policies::compare_releases).
// Called from one thread at a time (the main loop and the update worker take turns through the
// pipeline's and consent store's own locks; each call is whole).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/gateway_config.h"
#include "gateway/household/consent_store.h"
#include "gateway/mqtt/local_ingress.h"
#include "gateway/pipeline.h"
#include "gateway/store/ledger.h"
#include "gateway/store/spool.h"
#include "gateway/store/window_store.h"
#include "policies/evaluator.h"

namespace portier::gateway {

class policy_installer {
 public:
  // Every reference must outlive the installer; `windows` may be null.
  policy_installer(pipeline& pipe, consent_store& consent, spool& store, local_ingress& ingress,
                   ledger& record, policies::engine_identity identity,
                   window_store* windows = nullptr)
      : pipe_(pipe),
        consent_(consent),
        store_(store),
        ingress_(ingress),
        record_(record),
        identity_(identity),
        windows_(windows) {}

  // `config` gives the engine limits; `source` names where the policy came from, for the ledger.
  void install(std::shared_ptr<const policies::compiled_policy> next, const gateway_config& config,
               std::string_view source);

 private:
  pipeline& pipe_;
  consent_store& consent_;
  spool& store_;
  local_ingress& ingress_;
  ledger& record_;
  const policies::engine_identity identity_;
  window_store* windows_;
  std::mutex mu_;  // one install at a time: reload and remote update may coincide
};

// The engine limits of a configuration.
policies::engine_limits limits_from(const gateway_config& config);

}  // namespace portier::gateway
