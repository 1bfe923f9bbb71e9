#include <string>

#include "gateway/web/web_config.h"

#include <CppUTest/TestHarness.h>

namespace web = portier::gateway::web;

TEST_GROUP(WebConfig){
    std::string error_of(const std::string& text){auto c = web::parse_web_config("web.conf", text);
return c ? std::string("OK") : c.error_message();
}
}
;

TEST(WebConfig, DefaultsListenOnLoopback) {
  auto c = web::parse_web_config("web.conf", "");
  CHECK_TRUE(c.ok());
  CHECK_EQUAL(1, c->proto.listen_size());
  STRCMP_EQUAL("127.0.0.1", c->proto.listen(0).address().c_str());
  CHECK_EQUAL(8443u, c->proto.listen(0).port());
  STRCMP_EQUAL("/run/portier/control.sock", c->proto.control_socket().c_str());
  STRCMP_EQUAL("/var/lib/portier-web", c->proto.state_dir().c_str());
  CHECK_EQUAL(1800u, c->proto.session_idle_timeout_seconds());
  CHECK_EQUAL(43200u, c->proto.session_max_age_seconds());
  CHECK_EQUAL(32u, c->proto.max_sessions());
  CHECK_EQUAL(1u, c->urls.size());
  STRCMP_EQUAL("https://127.0.0.1:8443/", c->urls[0].c_str());
}

TEST(WebConfig, NamesAndAddressesMakeHostsUrlsAndCertificateNames) {
  auto c = web::parse_web_config("web.conf", R"(
listen { address: "192.168.1.2" port: 443 }
listen { address: "::0:1" port: 8443 }
listen { address: "0.0.0.0" port: 8443 }
names: "Portier.LAN"
names: "box.home.arpa"
session_idle_timeout_seconds: 1
)");
  CHECK_TRUE(c.ok());
  STRCMP_EQUAL("::1", c->proto.listen(1).address().c_str());
  const char* hosts[] = {"portier.lan", "box.home.arpa", "192.168.1.2", "::1"};
  CHECK_EQUAL(4u, c->hosts.size());
  for (std::size_t i = 0; i < 4; ++i) STRCMP_EQUAL(hosts[i], c->hosts[i].c_str());
  CHECK_EQUAL(2u, c->ports.size());
  const char* urls[] = {"https://portier.lan:443/",   "https://portier.lan:8443/",
                        "https://box.home.arpa:443/", "https://box.home.arpa:8443/",
                        "https://192.168.1.2:443/",   "https://[::1]:8443/"};
  CHECK_EQUAL(6u, c->urls.size());
  for (std::size_t i = 0; i < 6; ++i) STRCMP_EQUAL(urls[i], c->urls[i].c_str());
  CHECK_EQUAL(2u, c->ip_addresses.size());
  CHECK_EQUAL(1u, c->proto.session_idle_timeout_seconds());
}

TEST(WebConfig, ErrorsNameFileLineAndField) {
  STRCMP_EQUAL(
      "web.conf:2:10: listen[0].address: \"portier.lan\" is not an IPv4 or IPv6 address "
      "(names go in `names`)",
      error_of("\nlisten { address: \"portier.lan\" }").c_str());
  STRCMP_EQUAL("web.conf:1:25: listen[0].port: must be 1 to 65535, got 70000",
               error_of("listen { address: \"::1\" port: 70000 }").c_str());
  STRCMP_EQUAL(
      "web.conf:3:1: names[1]: \"bad_name\" is not a host name: labels of letters, "
      "digits and '-', separated by dots, at most 240 bytes (an address goes in listen)",
      error_of("names: \"ok.lan\"\n\nnames: \"bad_name\"").c_str());
  STRCMP_EQUAL(
      "web.conf:1:1: names[0]: \"10.0.0.1\" is not a host name: labels of letters, "
      "digits and '-', separated by dots, at most 240 bytes (an address goes in listen)",
      error_of("names: \"10.0.0.1\"").c_str());
  STRCMP_EQUAL(
      "web.conf:2:1: session_idle_timeout_seconds: must be 1 to 86400, got 90000\n"
      "web.conf:3:1: max_sessions: must be 1 to 1024, got 5000",
      error_of("names: \"a.lan\"\nsession_idle_timeout_seconds: 90000\nmax_sessions: "
               "5000")
          .c_str());
  STRCMP_EQUAL("web.conf:1:1: state_dir: \"relative\" must be an absolute path",
               error_of("state_dir: \"relative\"").c_str());
  STRCMP_EQUAL("web.conf:2:1: listen[1]: listens twice on 127.0.0.1 port 8443",
               error_of("listen { address: \"127.0.0.1\" }\nlisten { address: \"127.0.0.1\" "
                        "port: 8443 }")
                   .c_str());
  STRCMP_EQUAL(
      "web.conf:1:1: listen[0]: the page listens only on wildcard addresses: give the "
      "`names` it is reached by",
      error_of("listen { address: \"0.0.0.0\" }").c_str());
  STRCMP_CONTAINS("web.conf:1:1", error_of("unknown_field: 1").c_str());
  std::string longest;  // 240 bytes: three labels of 59, one of 60
  for (int i = 0; i < 3; ++i) longest += std::string(59, 'a') + ".";
  longest += std::string(60, 'b');
  STRCMP_EQUAL("OK", error_of("names: \"" + longest + "\"").c_str());
  STRCMP_CONTAINS("names[0]", error_of("names: \"" + longest + "b\"").c_str());
}
