// A control_service that lets one call through at a time, for a service called from more than
// one thread (the control server's, and the Home Assistant link's): household_service assumes
// one caller at a time (household_service.h).
#pragma once

#include <mutex>

#include "gateway/household/control_server.h"

namespace portier::gateway {

class serialized_service : public control_service {
 public:
  explicit serialized_service(control_service& inner) : inner_(inner) {}
  control::Response handle(const control::Request& request) override {
    std::lock_guard lock(mu_);
    return inner_.handle(request);
  }

 private:
  control_service& inner_;
  std::mutex mu_;
};

}  // namespace portier::gateway
