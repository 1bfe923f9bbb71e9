// The policy compiler: every validation it does, with the exact message and the FILE:LINE:COLUMN
// it points at, several errors at once, JSON sources, syntax errors, and the compiled form of a
// valid policy.
#include "policies/policy_compiler.h"

#include <array>
#include <initializer_list>
#include <string>
#include <vector>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_errors;
using portier::policies::test::compile_ok;
using portier::policies::test::joined;

namespace {

// Lines 1 and 2 of most policies below.
const std::string kPurposes =
    "purpose { id: \"service\" title: \"Service\" legal_basis: CONTRACT retention_seconds: 60 }\n"
    "purpose { id: \"analytics\" title: \"Analytics\" legal_basis: CONSENT retention_seconds: 60 "
    "}\n";

const std::string kValidClass =
    "device_class { id: \"ok\" topic: \"ok/{device}\" field { path: \"v\" rule { purpose: "
    "\"service\" keep {} } } }\n";

// The two purposes, `purpose` on line 3, and a valid class.
std::string purpose_policy(const std::string& purpose) {
  return kPurposes + purpose + "\n" + kValidClass;
}

// The two purposes and a class whose lines 4.. are `body`, then a valid class (so that the policy
// has one and errors are only about the class under test):
//   3: device_class {
//   4: <body>
std::string class_policy(const std::string& body) {
  return kPurposes + "device_class {\n" + body + "}\n" + kValidClass;
}

// A class "c" on topic "t/{device}" whose only field, on line 6, is
//   field { path: "v" rule { purpose: "analytics" <action> } }
// so the action starts at column 49.
std::string action_policy(const std::string& action) {
  return class_policy(
      "  id: \"c\"\n  topic: \"t/{device}\"\n  field { path: \"v\" rule { purpose: \"analytics\" " +
      action + " } }\n");
}

// A class "c" on topic "t/{device}" (lines 3 to 5) with `fields` from line 6.
std::string fields_policy(const std::string& fields) {
  return class_policy("  id: \"c\"\n  topic: \"t/{device}\"\n" + fields);
}

void check_errors(const std::string& text, std::initializer_list<const char*> expected,
                  const char* file, int line) {
  std::vector<std::string> want(expected.begin(), expected.end());
  STRCMP_EQUAL_LOCATION(joined(want).c_str(), joined(compile_errors(text)).c_str(), text.c_str(),
                        file, line);
}

#define ERRORS(text, ...) check_errors(text, {__VA_ARGS__}, __FILE__, __LINE__)

std::string repeated(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<std::string> compile_files(
    std::initializer_list<std::pair<const char*, std::string>> files) {
  std::vector<policy_source> sources;
  for (const auto& [path, text] : files) {
    auto src = parse_policy_source(path, text);
    if (!src) return {src.error_message()};
    sources.push_back(std::move(*src));
  }
  return compile_policy(sources).errors;
}

}  // namespace

TEST_GROUP(policy_compiler){};

TEST(policy_compiler, a_valid_policy_has_no_errors) {
  ERRORS(kPurposes + kValidClass);
  ERRORS(
      purpose_policy("purpose { id: \"a-1\" title: \"A\" legal_basis: LEGAL_OBLIGATION "
                     "retention_seconds: 31536000 }"));
  ERRORS(purpose_policy("purpose { id: \"" + std::string(32, 'a') +
                        "\" title: \"A\" legal_basis: CONSENT retention_seconds: 1 }"));
}

TEST(policy_compiler, purpose_ids) {
  ERRORS(
      purpose_policy(
          "purpose { id: \"Service2\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
      "test.textproto:3:11: purpose[2].id: purpose id \"Service2\" must be 1 to 32 lower-case "
      "letters, digits or '-', starting with a letter");
  ERRORS(purpose_policy(
             "purpose { id: \"2nd\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
         "test.textproto:3:11: purpose[2].id: purpose id \"2nd\" must be 1 to 32 lower-case "
         "letters, digits or '-', starting with a letter");
  ERRORS(purpose_policy(
             "purpose { id: \"a_b\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
         "test.textproto:3:11: purpose[2].id: purpose id \"a_b\" must be 1 to 32 lower-case "
         "letters, digits or '-', starting with a letter");
  ERRORS(purpose_policy("purpose { id: \"" + std::string(33, 'a') +
                        "\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
         ("test.textproto:3:11: purpose[2].id: purpose id \"" + std::string(33, 'a') +
          "\" must be 1 to 32 lower-case letters, digits or '-', starting with a letter")
             .c_str());
  // A missing field points at the purpose that lacks it.
  ERRORS(purpose_policy("purpose { title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
         "test.textproto:3:1: purpose[2].id: purpose id \"\" must be 1 to 32 lower-case letters, "
         "digits or '-', starting with a letter");
  ERRORS(
      purpose_policy(
          "purpose { id: \"service\" title: \"S\" legal_basis: CONTRACT retention_seconds: 60 }"),
      "test.textproto:3:11: purpose[2].id: duplicate purpose id \"service\", first defined at "
      "test.textproto:1:1");
}

TEST(policy_compiler, purpose_title_description_basis_retention) {
  ERRORS(
      purpose_policy("purpose { id: \"p\" legal_basis: CONTRACT retention_seconds: 60 }"),
      "test.textproto:3:1: purpose[2].title: every purpose needs a title the household can read");
  ERRORS(
      purpose_policy(
          "purpose { id: \"p\" title: \"\" legal_basis: CONTRACT retention_seconds: 60 }"),
      "test.textproto:3:19: purpose[2].title: every purpose needs a title the household can read");
  ERRORS(purpose_policy("purpose { id: \"p\" title: \"" + std::string(121, 't') +
                        "\" legal_basis: CONTRACT retention_seconds: 60 }"),
         "test.textproto:3:19: purpose[2].title: longer than 120 characters");
  ERRORS(
      purpose_policy("purpose { id: \"p\" title: \"P\" description: \"" + std::string(2001, 'd') +
                     "\" legal_basis: CONTRACT retention_seconds: 60 }"),
      "test.textproto:3:30: purpose[2].description: longer than 2000 characters");
  ERRORS(purpose_policy("purpose { id: \"p\" title: \"P\" retention_seconds: 60 }"),
         "test.textproto:3:1: purpose[2].legal_basis: legal_basis must be CONSENT, CONTRACT, "
         "LEGITIMATE_INTEREST or LEGAL_OBLIGATION");
  ERRORS(purpose_policy("purpose { id: \"p\" title: \"P\" legal_basis: 9 retention_seconds: 60 }"),
         "test.textproto:3:30: purpose[2].legal_basis: legal_basis must be CONSENT, CONTRACT, "
         "LEGITIMATE_INTEREST or LEGAL_OBLIGATION");
  ERRORS(purpose_policy("purpose { id: \"p\" title: \"P\" legal_basis: CONSENT special_category: 7 "
                        "retention_seconds: 60 }"),
         "test.textproto:3:51: purpose[2].special_category: unknown special category");
  ERRORS(purpose_policy("purpose { id: \"p\" title: \"P\" legal_basis: CONSENT }"),
         "test.textproto:3:1: purpose[2].retention_seconds: retention_seconds must be 1 to "
         "31536000 (one year), got 0");
  ERRORS(purpose_policy(
             "purpose { id: \"p\" title: \"P\" legal_basis: CONSENT retention_seconds: 31536001 }"),
         "test.textproto:3:51: purpose[2].retention_seconds: retention_seconds must be 1 to "
         "31536000 (one year), got 31536001");
}

TEST(policy_compiler, purpose_topic_templates) {
  const std::string head =
      "purpose { id: \"p\" title: \"P\" legal_basis: CONSENT retention_seconds: 9 topic_template: ";
  // The template starts at column 72.
  ERRORS(
      purpose_policy(head + "\"up/+/{device}\" }"),
      "test.textproto:3:72: purpose[2].topic_template: topic template must not contain '+' or '#'");
  ERRORS(
      purpose_policy(head + "\"up/#\" }"),
      "test.textproto:3:72: purpose[2].topic_template: topic template must not contain '+' or '#'");
  ERRORS(purpose_policy(head + "\"$up/{device}\" }"),
         "test.textproto:3:72: purpose[2].topic_template: topic template must not start with '$'");
  ERRORS(purpose_policy(head + "\"up/{Device}\" }"),
         "test.textproto:3:72: purpose[2].topic_template: unknown placeholder {Device} in topic "
         "template");
  ERRORS(
      purpose_policy(head + "\"up/{}\" }"),
      "test.textproto:3:72: purpose[2].topic_template: unknown placeholder {} in topic template");
  ERRORS(purpose_policy(head + "\"up/{device\" }"),
         "test.textproto:3:72: purpose[2].topic_template: unterminated '{' in topic template");
  ERRORS(purpose_policy(head + "\"up/device}\" }"),
         "test.textproto:3:72: purpose[2].topic_template: unmatched '}' in topic template");
  ERRORS(purpose_policy(head + "\"" + std::string(257, 'u') + "\" }"),
         "test.textproto:3:72: purpose[2].topic_template: topic template longer than 256 bytes");
  // Empty means the default.
  ERRORS(purpose_policy(head + "\"\" }"));
}

TEST(policy_compiler, policy_header) {
  ERRORS("name: \"" + std::string(65, 'n') + "\"\n" + kPurposes + kValidClass,
         "test.textproto:1:1: name: longer than 64 characters");
  ERRORS("name: \"" + std::string(64, 'n') + "\"\nversion: 3\n" + kPurposes + kValidClass);
}

TEST(policy_compiler, a_policy_needs_purposes_and_classes) {
  ERRORS("", "test.textproto: a policy needs at least one purpose",
         "test.textproto: a policy needs at least one device_class");
  ERRORS(kPurposes, "test.textproto: a policy needs at least one device_class");
  std::string many;
  for (int i = 0; i < 33; ++i) {
    many += "purpose { id: \"p" + std::to_string(i) +
            "\" title: \"P\" legal_basis: CONSENT retention_seconds: 1 }\n";
  }
  ERRORS(many +
             "device_class { id: \"ok\" topic: \"ok/{device}\" field { path: \"v\" rule { purpose: "
             "\"p0\" keep {} } } }",
         "test.textproto: more than 32 purposes");
  std::string classes;
  for (int i = 0; i < 257; ++i) {
    classes += "device_class { id: \"c" + std::to_string(i) + "\" topic: \"t" + std::to_string(i) +
               "/{device}\" field { path: \"v\" rule { purpose: \"service\" keep {} } } }\n";
  }
  ERRORS(kPurposes + classes, "test.textproto: more than 256 device classes");
}

TEST(policy_compiler, device_class_ids_and_topics) {
  ERRORS(class_policy("  id: \"Zigbee\"\n  topic: \"z/{device}\"\n  field { path: \"v\" rule { "
                      "purpose: \"service\" keep {} } }\n"),
         "test.textproto:4:3: device_class[0].id: device class id \"Zigbee\" must be 1 to 48 "
         "lower-case letters, digits or '-', starting with a letter");
  ERRORS(class_policy("  topic: \"z/{device}\"\n  field { path: \"v\" rule { purpose: \"service\" "
                      "keep {} } }\n"),
         "test.textproto:3:1: device_class[0].id: device class id \"\" must be 1 to 48 lower-case "
         "letters, digits or '-', starting with a letter");
  ERRORS(kPurposes + kValidClass + kValidClass,
         "test.textproto:4:16: device_class[1].id: duplicate device class id \"ok\", first defined "
         "at test.textproto:3:1");
  ERRORS(
      class_policy("  id: \"c\"\n  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
      "test.textproto:3:1: device_class[0]: a device class needs at least one topic filter");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  topic: \"z/#/x\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].topic[1]: \"#\" must be the last level of \"z/#/x\"");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  topic: \"z/{device}\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:3:1: device_class[0]: topic filter \"z/{device}\" is listed twice");
}

TEST(policy_compiler, device_id_needs_captures_of_every_filter) {
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  topic: \"y/{name}\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].topic[1]: topic filter \"y/{name}\" has no capture "
         "{device}, which device_id \"{device}\" needs");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"o/{user}/{device}\"\n  topic: \"o/{device}\"\n  "
                      "device_id: \"{user}/{device}\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].topic[1]: topic filter \"o/{device}\" has no capture "
         "{user}, which device_id \"{user}/{device}\" needs");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  device_id: \"{gateway}-{device}\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].device_id: device_id may use only captures of the "
         "topic filters, not {gateway}");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  device_id: \"{class}\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].device_id: device_id may use only captures of the "
         "topic filters, not {class}");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  device_id: \"{device\"\n"
                      "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].device_id: unterminated '{' in topic template");
  // A literal device id needs no capture.
  ERRORS(
      class_policy("  id: \"c\"\n  topic: \"dsmr/json\"\n  device_id: \"p1-meter\"\n"
                   "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n"));
}

TEST(policy_compiler, predicates) {
  const std::string head = "  id: \"c\"\n  topic: \"z/{device}\"\n";
  const std::string field = "  field { path: \"v\" rule { purpose: \"service\" keep {} } }\n";
  ERRORS(class_policy(head + "  format: RAW\n  when { path: \"_type\" equals: \"x\" }\n" +
                      "  field { path: \"$\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:7:3: device_class[0].when: a RAW class has no fields to test: use a JSON "
         "class or drop `when`");
  ERRORS(
      class_policy(head + "  when { path: \"a..b\" equals: \"x\" }\n" + field),
      "test.textproto:6:10: device_class[0].when.path: bad path \"a..b\": empty key at offset 2");
  ERRORS(class_policy(head + "  when { path: \"$\" equals: \"x\" }\n" + field),
         "test.textproto:6:10: device_class[0].when.path: a predicate path names one member, like "
         "\"_type\" or \"a.b\"");
  ERRORS(class_policy(head + "  when { path: \"items[*].kind\" equals: \"x\" }\n" + field),
         "test.textproto:6:10: device_class[0].when.path: a predicate path names one member, like "
         "\"_type\" or \"a.b\"");
  ERRORS(class_policy(head + "  when { path: \"_type\" }\n" + field),
         "test.textproto:6:3: device_class[0].when.equals: `equals` is empty");
  ERRORS(class_policy(head + "  when { path: \"meta.kind\" equals: \"x\" }\n" + field));
}

TEST(policy_compiler, field_tables) {
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n"),
         "test.textproto:3:1: device_class[0]: a device class needs at least one field");
  std::string fields;
  for (int i = 0; i < 257; ++i) {
    fields +=
        "  field { path: \"f" + std::to_string(i) + "\" rule { purpose: \"service\" keep {} } }\n";
  }
  ERRORS(fields_policy(fields), "test.textproto:3:1: device_class[0]: more than 256 fields");
  fields.clear();
  for (int i = 0; i < 256; ++i) {
    fields +=
        "  field { path: \"f" + std::to_string(i) + "\" rule { purpose: \"service\" keep {} } }\n";
  }
  ERRORS(fields_policy(fields));
}

TEST(policy_compiler, field_paths) {
  const std::string rule = " rule { purpose: \"service\" keep {} } }\n";
  ERRORS(fields_policy("  field { path: \"a..b\"" + rule),
         "test.textproto:6:11: device_class[0].field[0].path: bad path \"a..b\": empty key at "
         "offset 2");
  ERRORS(fields_policy("  field {" + rule),
         "test.textproto:6:3: device_class[0].field[0].path: bad path \"\": path is empty (use "
         "\"$\" for a bare value)");
  ERRORS(
      class_policy(
          "  id: \"c\"\n  topic: \"z/{device}\"\n  format: RAW\n  field { path: \"value\"" + rule),
      "test.textproto:7:11: device_class[0].field[0].path: a RAW class has only the field \"$\", "
      "not \"value\"");
  ERRORS(fields_policy("  field { path: \"a\"" + rule + "  field { path: \"a.b\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a.b\" overlaps field \"a\": "
         "list either a value or the members inside it");
  ERRORS(fields_policy("  field { path: \"a.b\"" + rule + "  field { path: \"a\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a\" is a container of other "
         "listed fields; list its members");
  ERRORS(fields_policy("  field { path: \"a[*].x\"" + rule + "  field { path: \"a[*]\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a[*]\" is a container of "
         "other listed fields; list its members");
  ERRORS(fields_policy("  field { path: \"a\"" + rule + "  field { path: \"a\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a\" overlaps field \"a\": "
         "list either a value or the members inside it");
  ERRORS(fields_policy("  field { path: \"\\\"a\\\"\"" + rule + "  field { path: \"a\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a\" overlaps field \"a\": "
         "list either a value or the members inside it");
  ERRORS(fields_policy("  field { path: \"$\"" + rule + "  field { path: \"a\"" + rule),
         "test.textproto:7:11: device_class[0].field[1].path: field \"a\" overlaps field \"$\": "
         "list either a value or the members inside it");
  // An array's elements and an object's members under one name: whichever arrives is followed.
  ERRORS(fields_policy("  field { path: \"a[*]\"" + rule + "  field { path: \"a.b\"" + rule));
}

TEST(policy_compiler, rules_name_known_purposes_once_per_field) {
  ERRORS(
      fields_policy("  field { path: \"v\" rule { keep {} } }\n"),
      "test.textproto:6:21: device_class[0].field[0].rule[0]: a rule names at least one purpose");
  ERRORS(fields_policy("  field { path: \"v\" rule { purpose: \"analitycs\" keep {} } }\n"),
         "test.textproto:6:28: device_class[0].field[0].rule[0].purpose[0]: unknown purpose "
         "\"analitycs\"");
  ERRORS(fields_policy("  field { path: \"v\" rule { purpose: \"service\" keep {} } rule { "
                       "purpose: \"service\" drop {} } }\n"),
         "test.textproto:6:64: device_class[0].field[0].rule[1].purpose[0]: purpose \"service\" "
         "already has a rule for field \"v\"");
  ERRORS(
      fields_policy(
          "  field { path: \"v\" rule { purpose: \"service\" purpose: \"service\" keep {} } }\n"),
      "test.textproto:6:47: device_class[0].field[0].rule[0].purpose[1]: purpose \"service\" "
      "already has a rule for field \"v\"");
  // In list syntax the error points at the list.
  ERRORS(fields_policy(
             "  field { path: \"v\" rule { purpose: [\"service\", \"service\"] keep {} } }\n"),
         "test.textproto:6:28: device_class[0].field[0].rule[0].purpose[1]: purpose \"service\" "
         "already has a rule for field \"v\"");
  ERRORS(
      fields_policy("  field { path: \"v\" rule { purpose: [\"service\", \"nope\"] keep {} } }\n"),
      "test.textproto:6:28: device_class[0].field[0].rule[0].purpose[1]: unknown purpose \"nope\"");
  ERRORS(
      fields_policy("  field { path: \"v\" rule { purpose: \"service\" } }\n"),
      "test.textproto:6:21: device_class[0].field[0].rule[0]: the rule has no action (keep, "
      "drop, pseudonymise, round, bucket, coarsen_time, truncate, generalise_location, aggregate)");
}

TEST(policy_compiler, action_parameters) {
  ERRORS(action_policy("pseudonymise { length: 7 }"),
         "test.textproto:6:64: device_class[0].field[0].rule[0].pseudonymise.length: pseudonym "
         "length must be 8 to 51 characters, got 7");
  ERRORS(action_policy("pseudonymise { length: 52 }"),
         "test.textproto:6:64: device_class[0].field[0].rule[0].pseudonymise.length: pseudonym "
         "length must be 8 to 51 characters, got 52");
  ERRORS(action_policy("pseudonymise { length: 51 }"));
  ERRORS(action_policy("pseudonymise {}"));
  ERRORS(action_policy("round { step: 0 }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be "
         "greater than 0, got 0");
  ERRORS(action_policy("round { step: -1 }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be "
         "greater than 0, got -1");
  ERRORS(action_policy("round { }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].round.step: round step must be "
         "greater than 0, got 0");
  ERRORS(action_policy("round { step: 1e13 }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be at "
         "most 1e+12, got 1e+13");
  ERRORS(action_policy("round { step: inf }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be at "
         "most 1e+12, got inf");
  ERRORS(action_policy("round { step: 1e12 }"));
  // A step finer than the 9 decimals a release prints rounds nothing.
  ERRORS(action_policy("round { step: 1e-300 }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be at "
         "least 1e-09 (a release prints at most 9 decimals), got 1e-300");
  ERRORS(action_policy("round { step: 9.9e-10 }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be at "
         "least 1e-09 (a release prints at most 9 decimals), got 9.9e-10");
  ERRORS(action_policy("round { step: nan }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be "
         "greater than 0, got nan");
  ERRORS(action_policy("round { step: -inf }"),
         "test.textproto:6:57: device_class[0].field[0].rule[0].round.step: round step must be "
         "greater than 0, got -inf");
  ERRORS(action_policy("round { step: 1e-9 }"));
  ERRORS(action_policy("keep { max_length: 65537 }"),
         "test.textproto:6:56: device_class[0].field[0].rule[0].keep.max_length: keep max_length "
         "must be 1 to 65536 characters, got 65537");
  ERRORS(action_policy("keep { max_length: 65536 type: STRING }"));
  ERRORS(action_policy("keep { type: NUMBER }"));
  ERRORS(action_policy("keep { type: BOOL max_length: 1 }"));
  ERRORS(action_policy("keep { max_length: 0 }"));  // no limit, as without max_length
  ERRORS(action_policy("truncate { length: 0 }"),
         "test.textproto:6:60: device_class[0].field[0].rule[0].truncate.length: truncate length "
         "must be 1 to 1024 characters, got 0");
  ERRORS(action_policy("truncate { length: 1025 }"),
         "test.textproto:6:60: device_class[0].field[0].rule[0].truncate.length: truncate length "
         "must be 1 to 1024 characters, got 1025");
  ERRORS(action_policy("truncate { length: 1024 }"));
  ERRORS(action_policy("coarsen_time { input: EPOCH_SECONDS }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].coarsen_time.to: coarsen_time "
         "needs `to: MINUTE`, `HOUR` or `DAY`");
  ERRORS(action_policy("coarsen_time { to: DAY input: ISO8601 }"));
}

TEST(policy_compiler, bucket_parameters) {
  // The bucket starts at column 49, `bound` at 58.
  ERRORS(action_policy("bucket { label: [\"all\"] }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].bucket: a bucket needs 1 to 64 "
         "bounds");
  ERRORS(action_policy("bucket { bound: [" + repeated("1,", 64) + "1] label: [\"a\"] }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].bucket: a bucket needs 1 to 64 "
         "bounds");
  ERRORS(action_policy("bucket { bound: [30, 30] label: [\"a\", \"b\", \"c\"] }"),
         "test.textproto:6:58: device_class[0].field[0].rule[0].bucket.bound[1]: bounds must be "
         "finite and strictly ascending");
  ERRORS(action_policy("bucket { bound: 100 bound: 30 label: [\"a\", \"b\", \"c\"] }"),
         "test.textproto:6:69: device_class[0].field[0].rule[0].bucket.bound[1]: bounds must be "
         "finite and strictly ascending");
  ERRORS(action_policy("bucket { bound: [inf] label: [\"a\", \"b\"] }"),
         "test.textproto:6:58: device_class[0].field[0].rule[0].bucket.bound[0]: bounds must be "
         "finite and strictly ascending");
  ERRORS(action_policy("bucket { bound: [30, 100] label: [\"weak\", \"good\"] }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].bucket: a bucket with 2 bounds "
         "needs 3 labels, got 2");
  ERRORS(action_policy("bucket { bound: [30] label: [\"a\", \"b\", \"c\"] }"),
         "test.textproto:6:49: device_class[0].field[0].rule[0].bucket: a bucket with 1 bounds "
         "needs 2 labels, got 3");
  ERRORS(action_policy("bucket { bound: [30] label: [\"weak\", \"\"] }"),
         "test.textproto:6:70: device_class[0].field[0].rule[0].bucket.label[1]: labels must be 1 "
         "to 64 characters");
  ERRORS(action_policy("bucket { bound: [30] label: \"weak\" label: \"" + std::string(65, 'g') +
                       "\" }"),
         "test.textproto:6:84: device_class[0].field[0].rule[0].bucket.label[1]: labels must be 1 "
         "to 64 characters");
  ERRORS(action_policy("bucket { bound: [-1, 0, 1] label: [\"a\", \"b\", \"c\", \"d\"] }"));
}

TEST(policy_compiler, generalise_location) {
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ longitude: \"lon\" cell_km: 0.05 } } }\n"),
         "test.textproto:6:90: device_class[0].field[0].rule[0].generalise_location.cell_km: "
         "cell_km must be 0.1 to 1000, got 0.05");
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ longitude: \"lon\" cell_km: 1001 } } }\n"),
         "test.textproto:6:90: device_class[0].field[0].rule[0].generalise_location.cell_km: "
         "cell_km must be 0.1 to 1000, got 1001");
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ longitude: \"lon\" } } }\n"),
         "test.textproto:6:51: device_class[0].field[0].rule[0].generalise_location.cell_km: "
         "cell_km must be 0.1 to 1000, got 0");
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ cell_km: 5 } } }\n"),
         "test.textproto:6:3: device_class[0].field[0]: generalise_location.longitude must name a "
         "sibling member, such as \"lon\"");
  ERRORS(fields_policy("  field { path: \"pos.lat\" rule { purpose: \"analytics\" "
                       "generalise_location { longitude: \"pos.lon\" cell_km: 5 } } }\n"),
         "test.textproto:6:3: device_class[0].field[0]: generalise_location.longitude must name a "
         "sibling member, such as \"lon\"");
  ERRORS(fields_policy("  field { path: \"points[*]\" rule { purpose: \"analytics\" "
                       "generalise_location { longitude: \"lon\" cell_km: 5 } } }\n"),
         "test.textproto:6:11: device_class[0].field[0].path: generalise_location goes on a "
         "latitude member such as \"lat\"");
  ERRORS(class_policy("  id: \"c\"\n  topic: \"z/{device}\"\n  field { path: \"$\" rule { purpose: "
                      "\"analytics\" generalise_location { longitude: \"lon\" cell_km: 5 } } }\n"),
         "test.textproto:6:11: device_class[0].field[0].path: generalise_location goes on a "
         "latitude member such as \"lat\"");
  // The longitude may be listed for other purposes, not for the one that generalises.
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ longitude: \"lon\" cell_km: 5 } } }\n"
                       "  field { path: \"lon\" rule { purpose: \"analytics\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].field[0]: longitude field \"lon\" already has a rule "
         "for purpose \"analytics\"; generalise_location on \"lat\" decides it");
  ERRORS(
      fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location { "
                    "longitude: \"lon\" cell_km: 5 } } }\n"
                    "  field { path: \"lon\" rule { purpose: \"service\" keep {} } }\n"));
  // A longitude that is an object or array of listed fields could never complete the pair.
  ERRORS(fields_policy("  field { path: \"lat\" rule { purpose: \"analytics\" generalise_location "
                       "{ longitude: \"lon\" cell_km: 5 } } }\n"
                       "  field { path: \"lon.deg\" rule { purpose: \"service\" keep {} } }\n"),
         "test.textproto:6:3: device_class[0].field[0]: longitude \"lon\" is a container of other "
         "listed fields; generalise_location needs a number");
  ERRORS(fields_policy("  field { path: \"pos.lon[*]\" rule { purpose: \"service\" keep {} } }\n"
                       "  field { path: \"pos.lat\" rule { purpose: \"analytics\" "
                       "generalise_location { longitude: \"lon\" cell_km: 5 } } }\n"),
         "test.textproto:7:3: device_class[0].field[1]: longitude \"pos.lon\" is a container of "
         "other listed fields; generalise_location needs a number");
  ERRORS(
      fields_policy("  field { path: \"a.lat\" rule { purpose: \"analytics\" generalise_location { "
                    "longitude: \"lng\" cell_km: 0.1 } } }\n"));
}

TEST(policy_compiler, topic_templates_need_captures_of_the_classes_they_serve) {
  const std::string purpose =
      "purpose { id: \"rooms\" title: \"R\" legal_basis: CONSENT retention_seconds: 9 "
      "topic_template: \"up/{room}/{device}\" }\n";
  ERRORS(
      purpose +
          "device_class {\n  id: \"c\"\n  topic: \"h/{room}/{device}\"\n  topic: \"h/{device}\"\n"
          "  field { path: \"v\" rule { purpose: \"rooms\" keep {} } }\n}\n",
      "test.textproto:5:3: device_class[0].topic[1]: topic filter \"h/{device}\" has no capture "
      "{room}, which the topic_template of purpose \"rooms\" needs",
      "test.textproto: a policy needs at least one device_class");
  // A class that sends nothing to the purpose need not capture its placeholders.
  ERRORS(purpose + kPurposes +
         "device_class {\n  id: \"c\"\n  topic: \"h/{device}\"\n"
         "  field { path: \"v\" rule { purpose: \"service\" keep {} } rule { purpose: \"rooms\" "
         "drop {} } }\n}\n");
}

TEST(policy_compiler, two_classes_may_not_take_the_same_topic) {
  const std::string field = " field { path: \"v\" rule { purpose: \"service\" keep {} } } }\n";
  ERRORS(kPurposes + "device_class { id: \"a\" topic: \"x/{device}\"" + field +
             "device_class { id: \"b\" topic: \"x/+\" device_id: \"one\"" + field,
         "test.textproto:4:1: device_class[1]: topic filter \"x/+\" is the same as \"x/{device}\" "
         "of device class \"a\" with the same predicate: which class applies would be ambiguous");
  ERRORS(kPurposes +
             "device_class { id: \"a\" topic: \"x/{device}\" when { path: \"k\" equals: \"1\" }" +
             field +
             "device_class { id: \"b\" topic: \"x/{device}\" when { path: \"k\" equals: \"1\" }" +
             field,
         "test.textproto:4:1: device_class[1]: topic filter \"x/{device}\" is the same as "
         "\"x/{device}\" of device class \"a\" with the same predicate: which class applies would "
         "be ambiguous");
  // Different predicates, or one predicate and a fallback, are fine.
  ERRORS(kPurposes +
         "device_class { id: \"a\" topic: \"x/{device}\" when { path: \"k\" equals: \"1\" }" +
         field +
         "device_class { id: \"b\" topic: \"x/{device}\" when { path: \"k\" equals: \"2\" }" +
         field + "device_class { id: \"c\" topic: \"x/{device}\"" + field);
  // Overlapping but different filters are resolved by specificity.
  ERRORS(kPurposes + "device_class { id: \"a\" topic: \"x/{device}\"" + field +
         "device_class { id: \"b\" topic: \"x/#\" device_id: \"one\"" + field);
}

TEST(policy_compiler, ignores_need_a_reason_and_must_not_shadow_a_class) {
  const std::string field = " field { path: \"v\" rule { purpose: \"service\" keep {} } } }\n";
  ERRORS(kPurposes + "device_class { id: \"a\" topic: \"x/{device...}\"" + field +
             "ignore { topic: \"x/{d...}\" why: \"commands\" }\n" + "ignore { }\n" +
             "ignore { topic: \"x/+/#/y\" why: \"bad\" ecosystem: \"" + std::string(65, 'e') +
             "\" }\n",
         "test.textproto:5:1: ignore[1]: an ignore needs at least one topic filter",
         "test.textproto:5:1: ignore[1].why: say why these topics stay home: households and "
         "auditors read it",
         "test.textproto:6:10: ignore[2].topic[0]: \"#\" must be the last level of \"x/+/#/y\"",
         "test.textproto:6:38: ignore[2].ecosystem: longer than 64 characters",
         "test.textproto:4:1: ignore[0]: topic filter \"x/{d...}\" is the same as "
         "\"x/{device...}\" of device "
         "class \"a\": whether it is ignored would be ambiguous (give the class a `when` "
         "predicate, or drop one of "
         "the two)");
  // Behind a class with a predicate, or more or less specific than a class: fine.
  ERRORS(kPurposes +
         "device_class { id: \"a\" topic: \"x/{device...}\" when { path: \"k\" equals: \"1\" }" +
         field + "ignore { topic: [\"x/{d...}\", \"x/{d...}/set\", \"x/+\"] why: \"commands\" }\n");
}

TEST(policy_compiler, every_error_is_reported_at_once) {
  ERRORS(
      kPurposes +
          "purpose { id: \"Bad\" title: \"B\" legal_basis: CONSENT retention_seconds: 0 }\n"
          "device_class {\n"
          "  id: \"c\"\n"
          "  topic: \"z/{device}\"\n"
          "  field { path: \"t\" rule { purpose: \"analytics\" round { step: 0 } } }\n"
          "  field { path: \"u\" rule { purpose: \"nope\" keep {} } }\n"
          "  field { path: \"a..b\" rule { purpose: \"service\" keep {} } }\n"
          "}\n"
          "device_class { id: \"d\" topic: \"y/{device}/#/x\" field { path: \"v\" rule { purpose: "
          "\"service\" keep {} } } }\n",
      "test.textproto:3:11: purpose[2].id: purpose id \"Bad\" must be 1 to 32 lower-case letters, "
      "digits or '-', starting with a letter",
      "test.textproto:3:53: purpose[2].retention_seconds: retention_seconds must be 1 to 31536000 "
      "(one year), got 0",
      "test.textproto:7:57: device_class[0].field[0].rule[0].round.step: round step must be "
      "greater than 0, got 0",
      "test.textproto:8:28: device_class[0].field[1].rule[0].purpose[0]: unknown purpose \"nope\"",
      "test.textproto:9:11: device_class[0].field[2].path: bad path \"a..b\": empty key at offset "
      "2",
      "test.textproto:11:24: device_class[1].topic[0]: \"#\" must be the last level of "
      "\"y/{device}/#/x\"",
      "test.textproto: a policy needs at least one device_class");
}

TEST(policy_compiler, json_sources_name_the_file_and_field_without_a_line) {
  const char* json =
      R"({"purpose": [{"id": "a", "title": "", "legalBasis": "CONSENT", "retentionSeconds": 5}],
    "deviceClass": [{"id": "c", "topic": ["x/{device}"],
                     "field": [{"path": "v", "rule": [{"purpose": ["b"], "round": {"step": -2}}]}]}]})";
  const auto errors = compile_errors(json, "acme.json");
  STRCMP_EQUAL(
      "acme.json: purpose[0].title: every purpose needs a title the household can read\n"
      "acme.json: device_class[0].field[0].rule[0].round.step: round step must be greater than 0, "
      "got -2\n"
      "acme.json: device_class[0].field[0].rule[0].purpose[0]: unknown purpose \"b\"\n"
      "acme.json: a policy needs at least one purpose\n"
      "acme.json: a policy needs at least one device_class\n",
      joined(errors).c_str());
  // The proto field names work as well as the JSON names.
  const char* valid =
      R"({"purpose": [{"id": "a", "title": "A", "legal_basis": "CONTRACT", "retention_seconds": 5}],
    "device_class": [{"id": "c", "topic": ["x/{device}"], "field": [{"path": "v", "rule": [{"purpose": ["a"], "keep": {}}]}]}]})";
  STRCMP_EQUAL("", joined(compile_errors(valid, "acme.json")).c_str());
}

TEST(policy_compiler, syntax_errors_name_file_line_and_column) {
  STRCMP_EQUAL(
      "test.textproto:1:24: Message type \"portier.policy.Purpose\" has no field named "
      "\"bogus\".\n",
      joined(compile_errors("purpose { id: \"a\" bogus: 1 }")).c_str());
  STRCMP_EQUAL("test.textproto:3:1: Expected identifier, got: \n",
               joined(compile_errors("purpose {\n  id: \"a\"\n")).c_str());
  STRCMP_EQUAL(
      "test.textproto:3:1: Unknown enumeration value of \"MAYBE\" for field \"legal_basis\".\n",
      joined(compile_errors("purpose {\n  legal_basis: MAYBE\n}\n")).c_str());
  STRCMP_EQUAL("test.textproto:1:30: Expected integer, got: -\n",
               joined(compile_errors("purpose { retention_seconds: -1 }")).c_str());
  STRCMP_EQUAL("acme.json: (purpose[0]) idd: Cannot find field.\n",
               joined(compile_errors(R"({"purpose": [{"idd": 1}]})", "acme.json")).c_str());
  const auto truncated = compile_errors(R"({"purpose": [)", "acme.json");
  LONGS_EQUAL(1, truncated.size());
  STRCMP_CONTAINS("acme.json: ", truncated[0].c_str());
}

TEST(policy_compiler, several_files_form_one_policy) {
  const std::string purposes = "name: \"acme\"\nversion: 2\n" + kPurposes;
  const std::string classes =
      "device_class { id: \"c\" topic: \"x/{device}\" field { path: \"v\" rule { purpose: "
      "\"analytics\" keep {} } } }\n";
  STRCMP_EQUAL(
      "", joined(compile_files({{"a.textproto", purposes}, {"b.textproto", classes}})).c_str());
  STRCMP_EQUAL(
      "b.textproto:1:1: name: the policy name is already set in a.textproto\n"
      "b.textproto:2:1: version: the policy version is already set in a.textproto\n"
      "b.textproto:3:11: purpose[0].id: duplicate purpose id \"service\", first defined at "
      "a.textproto:3:1\n"
      "b.textproto:4:11: purpose[1].id: duplicate purpose id \"analytics\", first defined at "
      "a.textproto:4:1\n",
      joined(
          compile_files({{"a.textproto", purposes},
                         {"b.textproto", "name: \"other\"\nversion: 3\n" + kPurposes + classes}}))
          .c_str());
  STRCMP_EQUAL(
      "b.textproto:1:16: device_class[0].id: duplicate device class id \"c\", first defined at "
      "a.textproto:5:1\n",
      joined(compile_files({{"a.textproto", purposes + classes}, {"b.textproto", classes}}))
          .c_str());
  STRCMP_EQUAL(
      "a.json, b.textproto: a policy needs at least one purpose\n"
      "a.json, b.textproto: a policy needs at least one device_class\n",
      joined(compile_files({{"a.json", "{}"}, {"b.textproto", ""}})).c_str());
  STRCMP_EQUAL(
      "(no files): a policy needs at least one purpose\n(no files): a policy needs at least one "
      "device_class\n",
      joined(compile_files({})).c_str());
}

TEST(policy_compiler, the_compiled_form) {
  auto p = compile_ok(
      "name: \"home\" version: 7\n"
      "purpose { id: \"service\" title: \"Service\" legal_basis: CONTRACT retention_seconds: 60 }\n"
      "purpose { id: \"analytics\" title: \"Analytics\" legal_basis: CONSENT retention_seconds: 60 "
      "}\n"
      "purpose { id: \"ops\" title: \"Ops\" legal_basis: LEGITIMATE_INTEREST retention_seconds: 60 "
      "}\n"
      "purpose { id: \"law\" title: \"Law\" legal_basis: LEGAL_OBLIGATION retention_seconds: 60 }\n"
      "purpose { id: \"where\" title: \"Where\" legal_basis: CONTRACT special_category: LOCATION "
      "retention_seconds: 60 suspended: true }\n"
      "device_class { id: \"generic\" topic: \"home/{room}/{device}\" topic: \"home/#\" device_id: "
      "\"home\"\n"
      "  field { path: \"v\" rule { purpose: \"service\" keep {} } } }\n"
      "device_class { id: \"kitchen\" title: \"Kitchen things\" topic: \"home/kitchen/{device}\"\n"
      "  field { path: \"lat\" rule { purpose: [\"where\", \"analytics\"] generalise_location { "
      "longitude: \"lon\" cell_km: 5 } } }\n"
      "  field { path: \"t\" title: \"temperature\" unit: \"°C\" rule { purpose: \"ops\" drop {} } "
      "} }\n");
  STRCMP_EQUAL("home", p->name().c_str());
  LONGS_EQUAL(7, p->version());
  LONGS_EQUAL(5, p->purposes().size());
  CHECK_TRUE(p->purposes()[0].granted_by_default);
  CHECK_FALSE(p->purposes()[1].granted_by_default);
  CHECK_TRUE(p->purposes()[2].granted_by_default);
  CHECK_TRUE(p->purposes()[3].granted_by_default);
  CHECK_FALSE(p->purposes()[4].granted_by_default);  // a special category always starts refused
  CHECK_TRUE(p->purposes()[4].suspended);
  STRCMP_EQUAL("portier/{gateway}/{purpose}/{class}/{device}",
               p->purposes()[0].topic.text().c_str());
  LONGS_EQUAL(3, p->purpose_index("law"));
  LONGS_EQUAL(-1, p->purpose_index("nope"));

  const compiled_class* kitchen = p->find_class("kitchen");
  CHECK_TRUE(kitchen != nullptr);
  POINTERS_EQUAL(nullptr, p->find_class("nope"));
  STRCMP_EQUAL("Kitchen things", kitchen->title.c_str());
  STRCMP_EQUAL("generic",
               p->find_class("generic")->title.c_str());  // the id when there is no title
  // The longitude is added to the field table, for the purposes that generalise.
  LONGS_EQUAL(3, kitchen->fields.size());
  STRCMP_EQUAL("lon", kitchen->fields[2].path.c_str());
  CHECK_TRUE(kitchen->fields[2].synthetic);
  CHECK_TRUE(kitchen->fields[2].actions[4].kind == action_kind::location_longitude);
  CHECK_TRUE(kitchen->fields[2].actions[0].kind == action_kind::none);
  STRCMP_EQUAL("lat", kitchen->fields[0].title.c_str());  // the path when there is no title
  // Purposes that receive something of the class; a drop rule receives nothing.
  LONGS_EQUAL(2, kitchen->purposes.size());
  LONGS_EQUAL(1, kitchen->purposes[0]);
  LONGS_EQUAL(4, kitchen->purposes[1]);

  // Routes offered for a topic, most specific first.
  std::string routes;
  std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
  p->router().route("home/kitchen/kettle", captures, [&](const topic_route& r) {
    routes += r.filter->text() + " -> " + r.device_class->id + "\n";
    return false;
  });
  STRCMP_EQUAL(
      "home/kitchen/{device} -> kitchen\n"
      "home/{room}/{device} -> generic\n"
      "home/# -> generic\n",
      routes.c_str());
  // "home/#" receives everything the other two would: one subscription, so one copy each.
  std::string subscriptions;
  for (const auto& s : p->subscriptions()) subscriptions += s + "\n";
  STRCMP_EQUAL("home/#\n", subscriptions.c_str());
}

TEST(policy_compiler, classes_with_a_predicate_are_tried_first) {
  auto p =
      compile_ok(kPurposes +
                 "device_class { id: \"plain\" topic: \"o/{device}\" field { path: \"v\" rule { "
                 "purpose: \"service\" keep {} } } }\n"
                 "device_class { id: \"typed\" topic: \"o/{device}\" when { path: \"_type\" "
                 "equals: \"x\" } field { path: \"v\" rule { purpose: \"service\" keep {} } } }\n");
  std::string order;
  std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
  p->router().route("o/x", captures, [&](const topic_route& r) {
    order += r.device_class->id + " ";
    return false;
  });
  STRCMP_EQUAL("typed plain ", order.c_str());
  LONGS_EQUAL(1, p->subscriptions().size());
}

TEST(policy_compiler, extra_subscriptions_join_without_copies) {
  auto p =
      compile_ok(kPurposes +
                 "device_class { id: \"a\" topic: \"home/{device}/state\" field { path: \"v\" "
                 "} }\n"
                 "device_class { id: \"b\" topic: \"tele/{device}/SENSOR\" field { path: \"v\" "
                 "} }\n");
  const std::vector<std::string> extra = {"home/#", "rtl_433/#", "tele/+/SENSOR"};
  std::string subscriptions;
  for (const auto& s : p->subscriptions(extra)) subscriptions += s + "\n";
  // "home/#" receives what "home/+/state" would, and "tele/+/SENSOR" is there once.
  STRCMP_EQUAL("tele/+/SENSOR\nhome/#\nrtl_433/#\n", subscriptions.c_str());
}

// ---- aggregation windows and differential privacy ----------------------------------------------

namespace {

// The one error of compiling `text`, which must contain `part` and name its file:line (besides the
// policy-wide error that no class compiled, when the class under test was the only one).
void check_one_error(const std::string& text, const char* part, const char* file, int line) {
  std::vector<std::string> errors = compile_errors(text);
  std::erase(errors, std::string("test.textproto: a policy needs at least one device_class"));
  const std::string all = joined(errors);
  CHECK_EQUAL_TEXT(1u, errors.size(), (text + "\n" + all).c_str());
  CHECK_TRUE_TEXT(all.find(part) != std::string::npos && all.rfind("test.textproto:", 0) == 0,
                  (std::string("wanted \"") + part + "\" in " + all).c_str());
  (void)file;
  (void)line;
}
#define ONE_ERROR(text, part) check_one_error(text, part, __FILE__, __LINE__)

std::string aggregate_policy(const std::string& aggregate, const std::string& purpose_extra = "") {
  return "purpose { id: \"a\" title: \"A\" legal_basis: CONSENT retention_seconds: 60 " +
         purpose_extra +
         " }\n"
         "device_class {\n  id: \"c\"\n  topic: \"t/{device}\"\n"
         "  field { path: \"v\" rule { purpose: \"a\" aggregate { " +
         aggregate + " } } }\n}\n";
}

}  // namespace

TEST(policy_compiler, aggregate_parameters) {
  ERRORS(aggregate_policy("function: MEAN window_seconds: 900"));
  ERRORS(aggregate_policy("function: DELTA window_seconds: 86400 wrap_at: 100000 step: 0.01"));
  ERRORS(aggregate_policy(
      "function: SUM window_seconds: 3600 noise { epsilon: 0.5 lower: 0 upper: 10 }",
      "epsilon_per_day: 1"));
  ONE_ERROR(aggregate_policy("window_seconds: 900"), "aggregate needs a function");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 30"),
            "window_seconds must be 60 to 86400");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 7000"), "divide a day");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 172800"),
            "window_seconds must be 60 to 86400");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 900 spread_seconds: 901"),
            "spread_seconds must be at most window_seconds");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 900 step: 1e-7"),
            "step must be 1e-06 to 1e+09");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 900 wrap_at: 10"),
            "wrap_at is for DELTA only");
  ONE_ERROR(aggregate_policy("function: MEAN window_seconds: 900 min_samples: 1000001"),
            "min_samples must be at most 1000000");
}

TEST(policy_compiler, noise_parameters_and_the_budget) {
  ONE_ERROR(
      aggregate_policy("function: COUNT window_seconds: 900 noise { epsilon: 1 lower: 0 upper: 1 }",
                       "epsilon_per_day: 1"),
      "COUNT takes no noise");
  ONE_ERROR(
      aggregate_policy("function: SUM window_seconds: 900 noise { epsilon: 0 lower: 0 upper: 1 }",
                       "epsilon_per_day: 1"),
      "epsilon must be 0.01 to 10");
  ONE_ERROR(
      aggregate_policy("function: SUM window_seconds: 900 noise { epsilon: 11 lower: 0 upper: 1 }",
                       "epsilon_per_day: 10"),
      "epsilon must be 0.01 to 10");
  ONE_ERROR(
      aggregate_policy("function: SUM window_seconds: 900 noise { epsilon: 1 lower: 5 upper: 5 }",
                       "epsilon_per_day: 1"),
      "lower < upper");
  ONE_ERROR(aggregate_policy(
                "function: DELTA window_seconds: 900 noise { epsilon: 1 lower: -1 upper: 5 }",
                "epsilon_per_day: 1"),
            "lower must be 0 or more");
  ONE_ERROR(
      aggregate_policy(
          "function: SUM window_seconds: 900 step: 1e-6 noise { epsilon: 1 lower: 0 upper: 1e7 }",
          "epsilon_per_day: 1"),
      "at most 1e12 steps");
  // Noise needs a budget, and one window must fit in it.
  ONE_ERROR(
      aggregate_policy("function: SUM window_seconds: 900 noise { epsilon: 1 lower: 0 upper: 1 }"),
      "needs epsilon_per_day");
  ONE_ERROR(
      aggregate_policy("function: SUM window_seconds: 900 noise { epsilon: 1 lower: 0 upper: 1 }",
                       "epsilon_per_day: 0.5"),
      "it could never be released");
  STRCMP_EQUAL(
      "test.textproto:1:73: purpose[0].epsilon_per_day: epsilon_per_day must be 0.01 to 10, got 20",
      compile_errors(
          aggregate_policy("function: SUM window_seconds: 900", "epsilon_per_day: 20"))[0]
          .c_str());
}

TEST(policy_compiler, a_purpose_gets_a_class_per_window_or_per_message) {
  const std::string purposes =
      "purpose { id: \"a\" title: \"A\" legal_basis: CONSENT retention_seconds: 60 }\n";
  ONE_ERROR(purposes +
                "device_class { id: \"c\" topic: \"t/{device}\"\n"
                "  field { path: \"v\" rule { purpose: \"a\" aggregate { function: MEAN "
                "window_seconds: 900 } } }\n"
                "  field { path: \"w\" rule { purpose: \"a\" round { step: 1 } } } }\n",
            "per window and \"w\" per message");
  // Dropping a field for the purpose is no release per message.
  ERRORS(purposes +
         "device_class { id: \"c\" topic: \"t/{device}\"\n"
         "  field { path: \"v\" rule { purpose: \"a\" aggregate { function: MEAN window_seconds: "
         "900 } } }\n"
         "  field { path: \"w\" rule { purpose: \"a\" drop {} } } }\n");
  ONE_ERROR(purposes +
                "device_class { id: \"c\" topic: \"t/{device}\"\n"
                "  field { path: \"v[*]\" rule { purpose: \"a\" aggregate { function: MEAN "
                "window_seconds: 900 } } "
                "} }\n",
            "not every element of an array");
  ONE_ERROR(purposes +
                "device_class { id: \"c\" topic: \"t/{device}\"\n"
                "  field { path: \"v\" rule { purpose: \"a\" aggregate { function: MEAN "
                "window_seconds: 900 "
                "spread_seconds: 10 } } }\n"
                "  field { path: \"w\" rule { purpose: \"a\" aggregate { function: MAX "
                "window_seconds: 900 "
                "spread_seconds: 20 } } } }\n",
            "need one spread_seconds");
}

TEST(policy_compiler, aggregate_defaults) {
  auto p = compile_ok(aggregate_policy("function: COUNT window_seconds: 3600 step: 0.5"));
  const aggregate_spec& s = p->find_class("c")->fields[0].actions[0].window;
  CHECK_TRUE(s.fn == aggregate_fn::count);
  CHECK_EQUAL(3600u, s.window_seconds);
  CHECK_EQUAL(1u, s.min_samples);
  DOUBLES_EQUAL(1, s.step, 0);          // COUNT is always on a grid of 1
  CHECK_EQUAL(300u, s.spread_seconds);  // a tenth of the window, at most 300 s
  CHECK_TRUE(p->find_class("c")->windowed_for(0));
  auto q = compile_ok(aggregate_policy("function: MEAN window_seconds: 900 spread_seconds: 0"));
  CHECK_EQUAL(0u, q->find_class("c")->fields[0].actions[0].window.spread_seconds);
  DOUBLES_EQUAL(0.001, q->find_class("c")->fields[0].actions[0].window.step, 0);
  CHECK_EQUAL(90u, compile_ok(aggregate_policy("function: MEAN window_seconds: 900"))
                       ->find_class("c")
                       ->fields[0]
                       .actions[0]
                       .window.spread_seconds);
}
