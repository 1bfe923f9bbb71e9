// Start-up checks: everything a start of portierd can find wrong with a loaded configuration
// without the network, in one place, so that `portierd --check-config` and a start find the
// same problems. run_daemon() runs them before it changes anything on disk (in particular
// before the one-time consent preset is written), so a start they refuse can be retried with a
// fixed configuration and loses nothing.
//
// Checked: the control group exists and the control socket can be made in its directory (where
// no file other than a socket is in the way);
// state_dir is (or can be made) a writable directory; upstream.ca_file holds PEM certificates
// (and is not a directory), upstream.ca_path is a directory; the mTLS client certificate is a
// PEM certificate, its key an unencrypted PEM private key that group and others cannot read
// and that belongs to the certificate; updates.root_key_file holds a public key; each
// grant/refuse of the consent preset names a purpose of the policy in force.
//
// Each error reads "FILE:LINE:COLUMN: field: what is wrong" (no line for a field left to its
// default). A grant/refuse naming no purpose is an error while the preset is still to be
// applied (state_dir/consent.pb does not exist); afterwards the preset is ignored, so it is only
// a warning (a policy update may have removed a purpose the preset once named).
#pragma once

#include <string>
#include <vector>

#include "gateway/gateway_config.h"
#include "policies/compiled_policy.h"

namespace portier::gateway {

struct startup_report {
  std::vector<std::string> errors;    // the start must not go on
  std::vector<std::string> warnings;  // worth saying, harmless
};

startup_report check_startup(const gateway_config& config, const policies::compiled_policy& policy);

}  // namespace portier::gateway
