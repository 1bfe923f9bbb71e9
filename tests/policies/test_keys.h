// Fixed P-256 keys for the update tests (openssl ecparam -name prime256v1 -genkey -noout), so
// that tests do not depend on fresh randomness. Test keys only: never trusted by a gateway.
#pragma once

namespace portier::policies::test {

inline constexpr const char* kRootKey = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILuJHf0D0JStifdXhmdwd3foK0FNQxZ7qahnSIvGNkWNoAoGCCqGSM49
AwEHoUQDQgAEUBqWSCPkyxpcnVILLW/zcCjy6tRAPM/w4I8wrPIJ8Sv14tNiE6YO
NJrXJNsrbv6RrBjWxHkJcrNozfd+5R7vFQ==
-----END EC PRIVATE KEY-----
)";
inline constexpr const char* kNewRootKey = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJrf4ZTkGteoTkHOU0ZbnJyU/2jucc1IuRAC43xa4ls3oAoGCCqGSM49
AwEHoUQDQgAEjP3EUaNJvMapFaXRZXIJhVpYiNSkGeaaltkrpe0FW5E6cvzdzNRT
dXXCVSfSDVnmmXnJpiWeB/BztI+9jQZeww==
-----END EC PRIVATE KEY-----
)";
inline constexpr const char* kOperatorKeyA = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJaylDz45E2+tUoTa2df4DKPLKTEAq2hdAFF5B+0DTmToAoGCCqGSM49
AwEHoUQDQgAE6RG9XVxN6JChphSNhut34I0sL2+5FLGWv52/JxYfeSv3qMuKdZGA
QNxpYYhbjyu1DCEy6L+3dan2+AaJUXEv3g==
-----END EC PRIVATE KEY-----
)";
inline constexpr const char* kOperatorKeyB = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIAw9GEfk77otK+jXouQf+BGeUN+g8oRK4sWALZ7L4Zf4oAoGCCqGSM49
AwEHoUQDQgAEHJko+m+BTEygPK7snFaMoVZEROzL6nv5qDOdgjOuM+b3QoWa2APa
eH/2E5WF+idRZ6qrBgt17AVDIsvt95LMxA==
-----END EC PRIVATE KEY-----
)";

}  // namespace portier::policies::test
