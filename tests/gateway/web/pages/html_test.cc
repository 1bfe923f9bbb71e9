#include "gateway/web/pages/html.h"

#include "markup_check.h"

#include <CppUTest/TestHarness.h>

using namespace portier::gateway::web;

TEST_GROUP(html){};

TEST(html, escape_makes_markup_and_quotes_inert) {
  STRCMP_EQUAL("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;",
               escape("<script>alert(\"x\")</script> & '").c_str());
  STRCMP_EQUAL("Anna’s room °C", escape("Anna’s room °C").c_str());
}

TEST(html, escape_replaces_invalid_utf8_and_drops_controls_and_bidi_overrides) {
  STRCMP_EQUAL(
      "a\xef\xbf\xbd"
      "b",
      escape("a\xff"
             "b")
          .c_str());
  STRCMP_EQUAL("ab", escape("a\x1b"
                            "b")
                         .c_str());
  STRCMP_EQUAL("evilgpj.exe", escape("evil\u202egpj.exe").c_str());
  STRCMP_EQUAL("a\nb", escape("a\nb").c_str());
  // A UTF-16 surrogate: each byte is replaced, as browsers decode it.
  STRCMP_EQUAL("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", escape("\xed\xa0\x80").c_str());
}

TEST(html, urls_are_percent_encoded_and_only_local_paths_are_local) {
  STRCMP_EQUAL("/device?id=Anna%20bedroom%26x%3D1",
               local_url("/device", {{"id", "Anna bedroom&x=1"}}).c_str());
  CHECK(is_local_path("/purposes"));
  CHECK(is_local_path("/device?id=Anna%20bedroom"));
  CHECK_FALSE(is_local_path("//evil.example/"));
  CHECK_FALSE(is_local_path("/\\evil.example/"));
  CHECK_FALSE(is_local_path("https://evil.example/"));
  CHECK_FALSE(is_local_path("/a\r\nSet-Cookie: x"));
  CHECK_FALSE(is_local_path(""));
}

TEST(html, forms_carry_the_csrf_field) {
  STRCMP_EQUAL(
      "<form method=\"post\" action=\"/pause\"><input type=\"hidden\" name=\"csrf\" "
      "value=\"a&quot;b\">",
      form_open("/pause", "a\"b").c_str());
}

TEST(html, the_markup_check_catches_a_broken_page) {
  using portier::gateway::web::testing::markup_problem;
  STRCMP_EQUAL("", markup_problem("<!DOCTYPE html><p id=\"a\">x<br><b>y</b></p>").c_str());
  CHECK(!markup_problem("<p><b>x</p></b>").empty());
  CHECK(!markup_problem("<p>x").empty());
  CHECK(!markup_problem("<p id=\"a\"></p><p id=\"a\"></p>").empty());
}
