// portier-policy: the operator's tool for policies. `portier-policy help` lists the commands.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "policies/explain.h"
#include "policies/policy_compiler.h"
#include "tools/portier_policy/commands.h"

namespace portier::tools {

namespace {

constexpr const char* kUsage = R"(usage: portier-policy COMMAND [ARGS]

Commands:
  check FILE|DIR...     Validate a policy (all files together form one policy).
                        Prints every error as FILE:LINE:COLUMN: FIELD: message; exit 1 if any.
  explain [--markdown] FILE|DIR...
                        Plain-language summary of what each purpose receives, and how.
                        --markdown: per ecosystem and device class, a table of what each
                        purpose receives of each field, in what form and why; the topics
                        that stay home (docs/DEFAULTS.md is this for the defaults).
  run FILE|DIR... [--grant PURPOSE]... [--refuse PURPOSE]... [--grant-all]
      [--pause] [--gateway-id ID] [--gateway-secret HEX] [--human]
                        Evaluate messages read from stdin, one JSON object a line:
                          {"topic": "...", "payload": <JSON value>}
                        (a string payload stands for a non-JSON wire payload) and write one
                        line per input: {"topic", "releases": [{"purpose", "topic",
                        "payload"}], "dropped": [{"reason", "count"}]}, and
                        "announced" when the line announced a state topic
                        (Home Assistant discovery): later lines are judged with
                        what earlier ones announced, as the gateway does.
                        --human prints the same for people: what the device sent
                        beside what each purpose receives.
                        Without --gateway-secret a fixed test secret is used, so
                        pseudonyms differ from a real gateway's.
      [--start TIME] [--every DURATION] [--seed TEXT] [--no-flush]
                        Aggregated fields (windows): a line's optional "time"
                        ("2026-12-05T10:15:03Z" or epoch ms) is the clock; lines
                        without one are --start (default 2026-01-01T00:00:00Z)
                        plus --every (e.g. 10s) per line. A windowed purpose's
                        release lists its "window_samples"; each window that
                        leaves is a line {"window": {"released_at", "purpose",
                        "topic", "payload", "epsilon"}}, at the time it would
                        leave (its spread included). At the end every open window
                        leaves (--no-flush: they stay), then a {"windows": counts}
                        line. Noise and delays come from a CTR-DRBG seeded with
                        --seed (default fixed, so runs repeat; a gateway seeds
                        from the system).
  suggest [FILE] [--policy FILE|DIR]...
                        Draft device classes for messages no class takes, from
                        `portierctl unmatched --json` or from captured messages
                        (one {"topic", "payload"} object a line; with --policy,
                        only those it leaves unmatched). Every field is listed
                        without a rule: nothing is released until you add rules.
                        FILE "-" or none: standard input.

Signed remote policy updates (docs/POLICY-UPDATES.md):
  keygen --out PREFIX   Make a P-256 key pair: PREFIX.key (private, mode 0600) and
                        PREFIX.pub. Refuses to overwrite.
  keylist --root ROOT.key --version N --expires DURATION --key OPERATOR.pub...
      [--new-root NEWROOT.key] --out FILE
                        Sign the list of operator keys gateways trust (each --key
                        names one; unlisted keys are revoked). --new-root rotates
                        the root: the list is signed by both roots.
  sign --key OPERATOR.key --sequence N --expires DURATION
      (--fleet | --gateway ID... | --class CLASS...) [--note TEXT] --out FILE
      FILE|DIR...       Sign a policy as a bundle for the fleet, some gateways, or
                        gateways whose running policy defines a class. The policy
                        must compile; nothing is signed otherwise.
  verify --root ROOT.pub --keylist FILE... [--gateway ID] [--current-policy FILE|DIR]
      [--applied N] BUNDLE
                        Check a bundle as a gateway would: prints "ok: ..." or
                        "rejected: REASON: ...". Key lists apply in the order given.
  publish --broker ssl://HOST:PORT [--cafile F | --capath D] [--cert C --key K]
      [--username U --password-file F] [--timeout S] (--gateway ID | --fleet NAME) BUNDLE
                        Publish retained at QoS 1 to portier/{ID}/policy or
                        portier/fleet/{NAME}/policy. TLS, always verified.
  publish-keylist ... (same options) KEYLIST
                        The same for a key list, to portier/{ID}/keys or
                        portier/fleet/{NAME}/keys.
  DURATION is a number with a unit: 30d, 12h, 90m, 45s.

  help                  This text.

Exit status: 0 success, 1 invalid policy or input, 2 wrong usage.
)";

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int check(const std::vector<std::string>& paths) {
  auto policy = load_policy(paths);
  if (!policy) return 1;
  std::size_t filters = 0;
  for (const auto& c : policy->classes()) filters += c->topics.size();
  std::cout << "ok: " << policy->purposes().size() << " purposes, " << policy->classes().size()
            << " device classes, " << filters << " topic filters\n";
  return 0;
}

int explain(const std::vector<std::string>& paths, bool markdown) {
  auto policy = load_policy(paths);
  if (!policy) return 1;
  std::cout << (markdown ? policies::explain_policy_markdown(*policy)
                         : policies::explain_policy(*policy));
  return 0;
}

}  // namespace

std::shared_ptr<const policies::compiled_policy> load_policy(const std::vector<std::string>& paths) {
  std::vector<policies::policy_source> sources;
  bool ok = true;
  for (const auto& path : paths) {
    if (is_directory(path)) {
      auto dir = policies::load_policy_dir(path);
      if (!dir) {
        std::cerr << dir.error_message() << "\n";
        ok = false;
        continue;
      }
      for (auto& s : *dir) sources.push_back(std::move(s));
    } else {
      auto src = policies::load_policy_file(path);
      if (!src) {
        std::cerr << src.error_message() << "\n";
        ok = false;
        continue;
      }
      sources.push_back(std::move(*src));
    }
  }
  if (!ok) return nullptr;
  auto result = policies::compile_policy(sources);
  for (const auto& e : result.errors) std::cerr << e << "\n";
  if (!result.errors.empty()) {
    std::cerr << result.errors.size() << (result.errors.size() == 1 ? " error\n" : " errors\n");
  }
  return result.policy;
}

}  // namespace portier::tools

int main(int argc, char** argv) {
  using namespace portier::tools;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "run") return run_command(args);
  if (command == "suggest") return suggest_command(args);
  if (command == "keygen" || command == "keylist" || command == "sign" || command == "verify") {
    return update_command(command, args);
  }
  if (command == "publish" || command == "publish-keylist") return publish_command(command, args);
  if (command != "check" && command != "explain") {
    std::cerr << "portier-policy: unknown command \"" << command << "\"; see `portier-policy help`\n";
    return 2;
  }
  bool markdown = false;
  if (command == "explain") {
    const auto it = std::find(args.begin(), args.end(), "--markdown");
    markdown = it != args.end();
    if (markdown) args.erase(it);
  }
  if (args.empty()) {
    std::cerr << "portier-policy " << command << ": name at least one policy file or directory\n";
    return 2;
  }
  for (const auto& a : args) {
    if (a.rfind("--", 0) == 0) {
      std::cerr << "portier-policy " << command << ": unknown option " << a << "\n";
      return 2;
    }
  }
  return command == "check" ? check(args) : explain(args, markdown);
}
