#include <string>

#include "gateway/web/http/http_text.h"

#include <CppUTest/TestHarness.h>

namespace web = portier::gateway::web;

TEST_GROUP(HttpText){};

TEST(HttpText, PercentDecoding) {
  struct {
    const char* in;
    bool plus;
    const char* out;  // nullptr: refused
  } cases[] = {
      {"a%20b", false, "a b"},      {"a+b", false, "a+b"},
      {"a+b", true, "a b"},         {"%C3%A9t%C3%A9", true, "été"},
      {"%2Fetc", false, "/etc"},    {"%41%62", true, "Ab"},
      {"%", true, nullptr},         {"%4", true, nullptr},
      {"%zz", true, nullptr},       {"%00", true, nullptr},
      {"a%0Ab", true, nullptr},     {"%7f", true, nullptr},
      {"tab\there", true, nullptr}, {"", true, ""},
  };
  for (const auto& c : cases) {
    const auto got = web::percent_decode(c.in, c.plus);
    if (c.out == nullptr) {
      CHECK_FALSE_TEXT(got.has_value(), c.in);
    } else {
      CHECK_TRUE_TEXT(got.has_value(), c.in);
      STRCMP_EQUAL(c.out, got->c_str());
    }
  }
}

TEST(HttpText, FormFieldsInOrder) {
  const auto f = web::parse_fields("code=ab+cd&&login_token=x%3Dy&flag&=v");
  CHECK_TRUE(f.has_value());
  CHECK_EQUAL(4u, f->size());
  STRCMP_EQUAL("ab cd", (*f)[0].second.c_str());
  STRCMP_EQUAL("x=y", (*f)[1].second.c_str());
  STRCMP_EQUAL("flag", (*f)[2].first.c_str());
  STRCMP_EQUAL("", (*f)[2].second.c_str());
  STRCMP_EQUAL("", (*f)[3].first.c_str());
  CHECK_FALSE(web::parse_fields("a=%G0").has_value());
}

TEST(HttpText, CookieValues) {
  STRCMP_EQUAL("abc", web::cookie_value("x=1; __Host-portier=abc; y=2", "__Host-portier")->c_str());
  STRCMP_EQUAL(
      "t", web::cookie_value("__Host-portier=abc;__Host-portier-login=t", "__Host-portier-login")
               ->c_str());
  CHECK_FALSE(web::cookie_value("__Host-portier-login=t", "__Host-portier").has_value());
  // Two cookies of one name: which one is ours cannot be known.
  CHECK_FALSE(
      web::cookie_value("__Host-portier=a; __Host-portier=b", "__Host-portier").has_value());
  CHECK_FALSE(web::cookie_value("", "__Host-portier").has_value());
}

TEST(HttpText, ConstantTimeEquality) {
  CHECK_TRUE(web::constant_time_equal("abc", "abc"));
  CHECK_FALSE(web::constant_time_equal("abc", "abd"));
  CHECK_FALSE(web::constant_time_equal("abc", "ab"));
  CHECK_TRUE(web::constant_time_equal("", ""));
}
