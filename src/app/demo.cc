#include "app/demo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "app/demo_config.h"
#include "app/demo_pointer.h"
#include "app/demo_process.h"
#include "app/demo_schema_sql.h"
#include "auth/scram.h"
#include "common/bytes.h"

namespace pgw::app {
namespace {

namespace fs = std::filesystem;
using namespace demo;  // the names the config shares with the setup
using namespace std::chrono_literals;
using demo::Command;

constexpr std::string_view kConfigFile = "pgwarden.yaml";
constexpr std::string_view kPgConfInclude = "pgwarden_demo.conf";
/// The HTTP control plane (the dev issuer's keys) listens on the gateway
/// port plus this (6432 -> 8240) when that port is free.
constexpr unsigned kHttpPortOffset = 1808;
/// Who the banner's token example connects as.
constexpr std::string_view kTokenSubject = "alice";

/// A step of the demo failed; `what()` says which step and why.
class DemoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(std::string_view step, std::string_view detail) {
  throw DemoError(std::string(step) + " failed: " + std::string(detail));
}

// ---------------------------------------------------------------------------
// Small helpers

std::string errnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string indent(std::string_view text) {
  std::string result;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) result += "    " + line + "\n";
  }
  return result;
}

/// The last `n` lines of a file, or "" when it cannot be read.
std::string tailOfFile(const fs::path& path, size_t n) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

std::string randomPassword(size_t length) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string text;
  for (size_t i = 0; i < length; ++i) text += kAlphabet[pick(device)];
  return text;
}

/// Creates or truncates a file with exactly `mode`, refusing symlinks.
void writeFile(const fs::path& path, std::string_view content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw DemoError("cannot write " + path.string() + ": " + errnoText(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t done = 0; ok && done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) throw DemoError("cannot write " + path.string() + ": " + errnoText(err));
}

void makeDir(const fs::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    throw DemoError("cannot create " + path.string() + ": " + errnoText(errno));
  }
  if (::chmod(path.c_str(), mode) != 0) {
    throw DemoError("cannot chmod " + path.string() + ": " + errnoText(errno));
  }
}

/// A string literal for postgresql.conf.
std::string confQuote(std::string_view value) {
  std::string text = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') text += c;
    text += c;
  }
  return text + "'";
}

/// Binds 127.0.0.1:port; with port 0 returns the port the kernel picked.
/// Returns 0 when the bind fails.
uint16_t tryBindLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

bool isExecutable(const fs::path& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

/// `word` as one shell word: unchanged when it holds only safe characters,
/// else in single quotes.
std::string shellWord(const std::string& word) {
  const bool safe = !word.empty() && word.find_first_not_of(
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789/._-+=:,@") == std::string::npos;
  if (safe) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// How to run this very binary again: its absolute path, or "pgwarden".
std::string selfCommand() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec || self.empty() ? std::string("pgwarden") : shellWord(self.string());
}

// ---------------------------------------------------------------------------
// The demo

class Demo {
 public:
  explicit Demo(const DemoOptions& options) : options_(options) {}

  /// Everything up to a written gateway config. Throws DemoError.
  void setUp();
  void printBanner() const;
  fs::path configPath() const { return dir_ / kConfigFile; }
  /// Stops PostgreSQL and removes what the demo created. Reports problems on
  /// stderr and returns false instead of throwing.
  bool tearDown() noexcept;

 private:
  void findBinaries();
  void makeWorkDir();
  void prepareForPostgresUser();
  void initCluster();
  void startPostgres();
  void createRoleAndDatabase();
  void loadSchema();
  void checkUpstreamLogin();
  void makeCertificates();
  void makeDevIssuerKey();
  uint16_t pickHttpPort() const;
  void writeGatewayConfig();
  void publishConfigPath();
  std::string devIssuerUrl() const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + "/dev-issuer";
  }
  /// chown to the postgres user when we are root.
  void giveToPostgres(std::string_view step, const fs::path& path) const;
  /// Copies a file into the data directory, 0600, owned by the server's user.
  void copyForPostgres(std::string_view step, const fs::path& from, std::string_view name) const;

  /// Runs a step's command; throws DemoError naming the step on failure.
  /// Returns stdout. Known secrets are masked in everything reported.
  std::string run(std::string_view step, const Command& cmd) const;
  /// argv prefixed with `runuser -u postgres --` when we are root.
  std::vector<std::string> asPostgres(std::vector<std::string> argv) const;
  std::vector<std::string> psql(std::string_view user, std::string_view database) const;
  std::string redact(std::string text) const;

  fs::path bin(std::string_view name) const { return bin_dir_ / name; }
  fs::path pgDir() const { return dir_ / "pg"; }
  fs::path dataDir() const { return pgDir() / "data"; }
  fs::path logFile() const { return pgDir() / "postgres.log"; }

  DemoOptions options_;
  fs::path bin_dir_;
  std::string pg_version_;
  fs::path dir_;
  bool owns_dir_ = false;
  bool as_root_ = ::geteuid() == 0;
  uid_t pg_uid_ = 0;
  gid_t pg_gid_ = 0;
  uint16_t pg_port_ = 0;
  uint16_t http_port_ = 0;
  bool start_attempted_ = false;
  bool config_published_ = false;
  std::string app_password_ = randomPassword(32);
  std::string demo_password_ = randomPassword(16);
  std::string customer_count_;
};

std::string Demo::redact(std::string text) const {
  for (size_t at; (at = text.find(app_password_)) != std::string::npos;) {
    text.replace(at, app_password_.size(), "********");
  }
  return text;
}

std::string Demo::run(std::string_view step, const Command& cmd) const {
  if (cmd.interruptible && demo::interrupted()) throw DemoError(std::string(step) + " interrupted");
  demo::Outcome outcome = demo::runCommand(cmd);
  if (outcome.ok()) return redact(outcome.out);
  if (!outcome.spawn_error.empty()) fail(step, outcome.spawn_error);
  if (outcome.interrupted) throw DemoError(std::string(step) + " interrupted");

  std::string why;
  if (outcome.timed_out) {
    why = "timed out after " + std::to_string(cmd.timeout.count()) + "s";
  } else if (outcome.signal != 0) {
    why = "was killed by signal " + std::to_string(outcome.signal);
  } else {
    why = "exited with status " + std::to_string(outcome.exit_code);
  }
  std::string detail = "`" + demo::describe(cmd.argv) + "` " + why;
  std::string output = outcome.err.empty() ? outcome.out : outcome.err;
  if (!output.empty()) detail += ":\n" + indent(redact(output));
  fail(step, detail);
}

std::vector<std::string> Demo::asPostgres(std::vector<std::string> argv) const {
  if (!as_root_) return argv;
  std::vector<std::string> wrapped = {"runuser", "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

/// psql over the Unix socket (trust), quiet, stopping at the first error.
std::vector<std::string> Demo::psql(std::string_view user, std::string_view database) const {
  return {bin("psql").string(),
          "-X",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          pgDir().string(),
          "-p",
          std::to_string(pg_port_),
          "-U",
          std::string(user),
          "-d",
          std::string(database)};
}

void Demo::findBinaries() {
  constexpr std::string_view step = "finding the PostgreSQL 15 binaries";
  fs::path candidate = "/usr/lib/postgresql/15/bin";
  if (!isExecutable(candidate / "initdb")) {
    Command cmd{.argv = {"pg_config", "--bindir"}, .timeout = 10s};
    std::string out;
    try {
      out = run(step, cmd);
    } catch (const DemoError&) {
      fail(step,
           "no /usr/lib/postgresql/15/bin/initdb and `pg_config --bindir` did not run; "
           "install the server package (Debian: apt-get install postgresql-15)");
    }
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    candidate = out;
  }
  for (std::string_view tool : {"initdb", "pg_ctl", "postgres", "psql"}) {
    if (!isExecutable(candidate / tool)) {
      fail(step, (candidate / tool).string() +
                     " is missing; install the PostgreSQL server and client "
                     "(Debian: apt-get install postgresql-15)");
    }
  }
  bin_dir_ = candidate;
  std::string version =
      run(step, {.argv = {bin("postgres").string(), "--version"}, .timeout = 10s});
  // "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
  std::istringstream words(version);
  for (std::string word; words >> word;) {
    if (!word.empty() && std::isdigit(static_cast<unsigned char>(word[0]))) {
      pg_version_ = word;
      break;
    }
  }
  if (std::atoi(pg_version_.c_str()) < 10) {
    fail(step, bin_dir_.string() + " holds PostgreSQL " + pg_version_ +
                   "; the demo needs SCRAM, i.e. PostgreSQL 10 or newer (15 tested)");
  }
}

void Demo::makeWorkDir() {
  constexpr std::string_view step = "creating the work directory";
  try {
    if (options_.work_dir.empty()) {
      std::string templ = (fs::temp_directory_path() / "pgwarden-demo-XXXXXX").string();
      if (::mkdtemp(templ.data()) == nullptr) {
        fail(step, "mkdtemp " + templ + ": " + errnoText(errno));
      }
      dir_ = templ;
      owns_dir_ = true;
    } else {
      dir_ = fs::absolute(options_.work_dir).lexically_normal();
      fs::create_directories(dir_);
    }
    // The postgres user must be able to reach <dir>/pg; nothing else in <dir>
    // is readable by others.
    if (owns_dir_) ::chmod(dir_.c_str(), as_root_ ? 0711 : 0700);
    makeDir(pgDir(), 0700);
    makeDir(dir_ / "certs", 0700);
    makeDir(dir_ / "secrets", 0700);
  } catch (const fs::filesystem_error& e) {
    fail(step, e.what());
  }
}

void Demo::prepareForPostgresUser() {
  if (!as_root_) return;
  constexpr std::string_view step = "preparing to run PostgreSQL as the postgres user";
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    fail(step,
         "running as root, and initdb refuses to run as root; there is no 'postgres' OS "
         "user to run it as. Create one (useradd -r postgres) or run the demo as an "
         "ordinary user");
  }
  pg_uid_ = pw->pw_uid;
  pg_gid_ = pw->pw_gid;
  if (::chown(pgDir().c_str(), pg_uid_, pg_gid_) != 0) {
    fail(step, "chown " + pgDir().string() + ": " + errnoText(errno));
  }
  demo::Outcome probe =
      demo::runCommand({.argv = asPostgres({"test", "-w", pgDir().string()}), .timeout = 30s});
  if (!probe.spawn_error.empty()) fail(step, probe.spawn_error);
  if (probe.interrupted) throw DemoError(std::string(step) + " interrupted");
  if (!probe.ok()) {
    fail(step, "the postgres user cannot write to " + pgDir().string() +
                   " (a parent directory is not searchable by it); choose a work directory "
                   "under /tmp");
  }
}

void Demo::initCluster() {
  if (fs::exists(dataDir() / "PG_VERSION")) {
    std::cout << "demo: reusing the database cluster in " << dataDir().string() << "\n";
  } else {
    std::cout << "demo: initializing a PostgreSQL " << pg_version_ << " cluster in "
              << dataDir().string() << "\n"
              << std::flush;
    run("initializing the database cluster (initdb)",
        {.argv = asPostgres({bin("initdb").string(), "-D", dataDir().string(), "-U", "postgres",
                             "--auth-host=scram-sha-256", "--auth-local=trust", "--no-locale", "-E",
                             "UTF8", "--no-sync", "--no-instructions"}),
         .cwd = pgDir().string()});
  }
  // Our settings live in their own file so that a kept cluster can be
  // restarted on a new port.
  constexpr std::string_view step = "configuring PostgreSQL";
  fs::path conf = dataDir() / "postgresql.conf";
  std::ifstream current(conf);
  std::stringstream text;
  text << current.rdbuf();
  if (!current) fail(step, "cannot read " + conf.string());
  const std::string include = "include_if_exists " + confQuote(kPgConfInclude);
  if (text.str().find(include) == std::string::npos) {
    std::ofstream append(conf, std::ios::app);
    append << "\n# added by pgwarden demo\n" << include << "\n";
    if (!append) fail(step, "cannot append to " + conf.string());
  }
}

void Demo::giveToPostgres(std::string_view step, const fs::path& path) const {
  if (as_root_ && ::chown(path.c_str(), pg_uid_, pg_gid_) != 0) {
    fail(step, "chown " + path.string() + ": " + errnoText(errno));
  }
}

void Demo::copyForPostgres(std::string_view step, const fs::path& from,
                           std::string_view name) const {
  const fs::path to = dataDir() / name;
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) fail(step, "copying " + from.string() + " to " + to.string() + ": " + ec.message());
  if (::chmod(to.c_str(), 0600) != 0) fail(step, "chmod " + to.string() + ": " + errnoText(errno));
  giveToPostgres(step, to);
}

void Demo::startPostgres() {
  constexpr std::string_view step = "starting PostgreSQL (pg_ctl start)";
  for (int attempt = 1;; ++attempt) {
    pg_port_ = tryBindLoopback(0);
    if (pg_port_ == options_.gateway_port || pg_port_ == http_port_) continue;
    if (pg_port_ == 0) fail(step, "cannot find a free TCP port on 127.0.0.1");
    // The demo CA's server certificate serves both legs: clients -> gateway
    // and gateway -> PostgreSQL (verify-full).
    copyForPostgres(step, dir_ / "certs" / "server.crt", "pgwarden_demo.crt");
    copyForPostgres(step, dir_ / "certs" / "server.key", "pgwarden_demo.key");
    std::ostringstream settings;
    settings << "# written by pgwarden demo on every start\n"
             << "listen_addresses = '127.0.0.1'\n"
             << "port = " << pg_port_ << "\n"
             << "unix_socket_directories = " << confQuote(pgDir().string()) << "\n"
             << "ssl = on\n"
             << "ssl_cert_file = 'pgwarden_demo.crt'\n"
             << "ssl_key_file = 'pgwarden_demo.key'\n";
    writeFile(dataDir() / kPgConfInclude, settings.str(), 0600);
    giveToPostgres(step, dataDir() / kPgConfInclude);
    std::cout << "demo: starting PostgreSQL on 127.0.0.1:" << pg_port_ << "\n" << std::flush;
    start_attempted_ = true;
    try {
      run(step, {.argv = asPostgres({bin("pg_ctl").string(), "-D", dataDir().string(), "-l",
                                     logFile().string(), "-w", "-t", "60", "start"}),
                 .cwd = pgDir().string(),
                 .timeout = 90s});
      return;
    } catch (const DemoError& e) {
      std::string log = tailOfFile(logFile(), 15);
      // Another process may have taken the port between our probe and the start.
      if (attempt < 3 && !demo::interrupted() && log.find("could not bind") != std::string::npos) {
        continue;
      }
      std::string detail = e.what();
      if (!log.empty()) detail += "  last lines of " + logFile().string() + ":\n" + indent(log);
      throw DemoError(detail);
    }
  }
}

void Demo::createRoleAndDatabase() {
  // Idempotent, so that a kept work dir can be reused; the password is new
  // every time. It travels on stdin, never in argv.
  std::ostringstream sql;
  sql << "SET password_encryption = 'scram-sha-256';\n"
      << "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" << kAppRole
      << "') AS need_role \\gset\n"
      << "\\if :need_role\n"
      << "CREATE ROLE " << kAppRole << ";\n"
      << "\\endif\n"
      << "ALTER ROLE " << kAppRole << " WITH LOGIN PASSWORD '" << app_password_ << "';\n"
      << "SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = '" << kDatabase
      << "') AS need_db \\gset\n"
      << "\\if :need_db\n"
      << "CREATE DATABASE " << kDatabase << " OWNER " << kAppRole << ";\n"
      << "\\endif\n";
  run("creating the role " + std::string(kAppRole) + " and the database " + std::string(kDatabase),
      {.argv = psql("postgres", "postgres"), .input = sql.str(), .cwd = pgDir().string()});
}

void Demo::loadSchema() {
  std::vector<std::string> probe = psql(kAppRole, kDatabase);
  probe.insert(probe.end(), {"-tA", "-c", "SELECT to_regclass('public.customers') IS NULL"});
  std::string missing = run("checking for the sample schema",
                            {.argv = probe, .cwd = pgDir().string(), .timeout = 30s});
  if (missing.rfind("t", 0) != 0) return;
  std::cout << "demo: loading the sample schema into " << kDatabase << "\n" << std::flush;
  std::vector<std::string> load = psql(kAppRole, kDatabase);
  load.push_back("--single-transaction");
  run("loading the sample schema (demo_schema.sql)",
      {.argv = load, .input = std::string(kDemoSchemaSql), .cwd = pgDir().string()});
}

void Demo::checkUpstreamLogin() {
  // The path the gateway takes: TCP, TLS verify-full, SCRAM with the held credential.
  std::string out =
      run("logging in as " + std::string(kAppRole) + " over TLS with SCRAM",
          {.argv = {bin("psql").string(), "-X", "-tA", "-h", "127.0.0.1", "-p",
                    std::to_string(pg_port_), "-U", std::string(kAppRole), "-d",
                    std::string(kDatabase), "-c", "SELECT count(*) FROM customers"},
           .cwd = pgDir().string(),
           .env = {"PGPASSWORD=" + app_password_, "PGSSLMODE=verify-full",
                   "PGSSLROOTCERT=" + (dir_ / "certs" / "ca.crt").string(), "PGCONNECT_TIMEOUT=10"},
           .timeout = 30s});
  customer_count_ = out.substr(0, out.find_first_of("\r\n"));
}

void Demo::makeCertificates() {
  constexpr std::string_view step = "generating TLS certificates (openssl)";
  const fs::path certs = dir_ / "certs";
  const std::string cwd = certs.string();
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  std::vector<std::string> ca = {"openssl", "req", "-x509", "-new"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  ca.insert(ca.end(), {"-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj",
                       "/CN=pgwarden demo CA", "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  run(step, {.argv = ca, .cwd = cwd, .timeout = 60s});

  std::vector<std::string> csr = {"openssl", "req", "-new"};
  csr.insert(csr.end(), ec.begin(), ec.end());
  csr.insert(csr.end(), {"-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"});
  run(step, {.argv = csr, .cwd = cwd, .timeout = 60s});

  writeFile(certs / "server.ext",
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n",
            0600);
  std::random_device device;
  const uint64_t serial = ((uint64_t{device()} << 32) | device()) >> 1;
  run(step, {.argv = {"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
                      "ca.key", "-set_serial", std::to_string(serial), "-days", "30", "-out",
                      "server.crt", "-extfile", "server.ext"},
             .cwd = cwd,
             .timeout = 60s});
  std::error_code ignored;
  for (const char* name : {"server.csr", "server.ext", "ca.key"}) fs::remove(certs / name, ignored);
  if (::chmod((certs / "server.key").c_str(), 0600) != 0 ||
      ::chmod((certs / "server.crt").c_str(), 0644) != 0 ||
      ::chmod((certs / "ca.crt").c_str(), 0644) != 0 || ::chmod(certs.c_str(), 0755) != 0) {
    fail(step, "chmod in " + cwd + ": " + errnoText(errno));
  }
}

void Demo::makeDevIssuerKey() {
  constexpr std::string_view step = "generating the dev issuer's signing key (openssl)";
  // A new key on every start, in the 0700 secrets directory; a kept work dir
  // does not keep old tokens valid.
  const fs::path key = dir_ / kDevIssuerKeyFile;
  std::error_code ignored;
  fs::remove(key, ignored);
  run(step, {.argv = {"openssl", "genpkey", "-algorithm", "ed25519", "-out", key.string()},
             .cwd = dir_.string(),
             .timeout = 60s});
  if (::chmod(key.c_str(), 0600) != 0) {
    fail(step, "chmod " + key.string() + ": " + errnoText(errno));
  }
}

uint16_t Demo::pickHttpPort() const {
  const unsigned preferred = unsigned{options_.gateway_port} + kHttpPortOffset;
  if (preferred <= 65535 && tryBindLoopback(static_cast<uint16_t>(preferred)) != 0) {
    return static_cast<uint16_t>(preferred);
  }
  for (int attempt = 0; attempt < 10; ++attempt) {
    const uint16_t port = tryBindLoopback(0);
    if (port != 0 && port != options_.gateway_port) return port;
  }
  fail("choosing a port for the HTTP control plane", "cannot find a free TCP port on 127.0.0.1");
}

void Demo::publishConfigPath() {
  if (auto st = demo::publishCurrentConfig(configPath().string()); !st) {
    std::cerr << "pgwarden demo: " << st.error().message
              << "; `pgwarden token mint --demo` will not find this demo, use --config "
              << configPath().string() << " instead\n";
    return;
  }
  config_published_ = true;
}

void Demo::writeGatewayConfig() {
  writeFile(dir_ / kSecretFile, app_password_, 0600);
  writeFile(dir_ / kStateKeyFile, toHex(asBytes(auth::randomBytes(32))), 0600);
  writeFile(configPath(),
            demo::gatewayConfigYaml(
                {options_.gateway_port, http_port_, pg_port_, demo_password_, devIssuerUrl()}),
            0600);
}

void Demo::setUp() {
  if (options_.gateway_port == 0) {
    fail("checking the gateway port",
         "port 0 is not a port clients can dial; choose one, e.g. 6432");
  }
  if (tryBindLoopback(options_.gateway_port) == 0) {
    fail("checking the gateway port",
         "127.0.0.1:" + std::to_string(options_.gateway_port) +
             " is already in use; stop what listens there or choose another port");
  }
  http_port_ = pickHttpPort();
  findBinaries();
  makeWorkDir();
  prepareForPostgresUser();
  initCluster();
  std::cout << "demo: generating a demo CA and a server certificate for localhost\n" << std::flush;
  makeCertificates();
  std::cout << "demo: generating the dev OIDC issuer's signing key\n" << std::flush;
  makeDevIssuerKey();
  startPostgres();
  createRoleAndDatabase();
  loadSchema();
  checkUpstreamLogin();
  try {
    writeGatewayConfig();
  } catch (const DemoError& e) {
    fail("writing the gateway config", e.what());
  }
  publishConfigPath();
}

void Demo::printBanner() const {
  const std::string port = std::to_string(options_.gateway_port);
  const std::string conninfo = "host=127.0.0.1 port=" + port + " dbname=" + std::string(kDatabase) +
                               " user=" + std::string(kDemoUser) + " password=" + demo_password_;
  std::ostringstream text;
  text << "\n"
       << "pgwarden demo is ready\n"
       << "\n"
       << "  psql --TLS--> pgwarden 127.0.0.1:" << port << " --TLS verify-full--> PostgreSQL "
       << pg_version_ << " 127.0.0.1:" << pg_port_ << "\n"
       << "  database  " << kDatabase << ": customers (" << customer_count_
       << " rows of fake PII), orders, payroll\n"
       << "  config    " << configPath().string() << "\n"
       << "  upstream  the gateway logs in as " << kAppRole << "; that password stays in "
       << (dir_ / kSecretFile).string() << "\n"
       << "  identity  the local user " << kDemoUser << ", and OIDC tokens from the dev issuer "
       << devIssuerUrl() << "\n"
       << "            (keys: " << devIssuerUrl()
       << "/jwks.json; signing key: " << (dir_ / kDevIssuerKeyFile).string() << ")\n"
       << "\n"
       << "Connect through the gateway as " << kDemoUser << ":\n"
       << "  psql \"" << conninfo << " sslmode=require\"\n"
       << "or, checking the gateway's certificate:\n"
       << "  psql \"" << conninfo
       << " sslmode=verify-full sslrootcert=" << (dir_ / "certs" / "ca.crt").string() << "\"\n"
       << "or with a short-lived OIDC token (" << kDevTokenLifetime << ") from the dev issuer, as "
       << kTokenSubject << " in group " << kTokenGroup << ":\n"
       << "  psql \"host=127.0.0.1 port=" << port << " dbname=" << kDatabase
       << " user=" << kTokenSubject << " sslmode=require password=$(" << selfCommand()
       << " token mint --demo --sub " << kTokenSubject << " --groups " << kTokenGroup << ")\"\n"
       << "\n"
       << "Try:\n"
       << "  SELECT id, full_name, email, ssn, card_number FROM customers ORDER BY id LIMIT 5;\n"
       << "  SELECT status, count(*), sum(amount) FROM orders GROUP BY status ORDER BY 2 DESC;\n"
       << "  SELECT c.full_name, o.amount, o.status FROM orders o\n"
       << "    JOIN customers c ON c.id = o.customer_id ORDER BY o.amount DESC LIMIT 5;\n"
       << "  SELECT employee, salary, bank_account FROM payroll;\n"
       << "  SELECT usename, application_name, ssl FROM pg_stat_activity JOIN pg_stat_ssl\n"
       << "    USING (pid) WHERE backend_type = 'client backend';\n"
       << "and see the policy at work (as " << kTokenSubject << ", read-only, masked):\n"
       << "  SELECT id, email, ssn, card_number, birth_date FROM customers LIMIT 3;"
          "  -- masked\n"
       << "  SELECT lower(email), row_to_json(c) FROM customers c LIMIT 1;  -- still masked\n"
       << "  DELETE FROM orders;              -- denied: DELETE without WHERE\n"
       << "  UPDATE customers SET email = '' WHERE id = 1;   -- denied: read-only policy\n"
       << "and ask a person (as " << kDemoUser
       << ": a write to payroll waits for an approver, who may not be you):\n"
       << "  UPDATE payroll SET salary = salary + 1000 WHERE id = 1;  -- waits\n"
       << "  then, in another terminal, approve it as dana (group " << kApproverGroup << "):\n"
       << "  export PGWARDEN_API=http://127.0.0.1:" << http_port_ << " PGWARDEN_TOKEN=$("
       << selfCommand() << " token mint --demo --sub dana --groups " << kApproverGroup << ")\n"
       << "  " << selfCommand() << " review list\n"
       << "  " << selfCommand() << " review approve rv_...   # the id the waiting psql printed\n"
       << "then read the audit trail (every statement, who ran it, what was decided):\n"
       << "  " << selfCommand() << " audit tail --config " << configPath().string() << " -n 20\n"
       << "  " << selfCommand() << " audit verify --config " << configPath().string() << "\n"
       << "\n";
  if (owns_dir_) {
    text << "Ctrl-C stops everything and removes " << dir_.string() << "\n\n";
  } else {
    text << "Ctrl-C stops everything; " << dir_.string() << " is kept\n\n";
  }
  std::cout << text.str() << std::flush;
}

bool Demo::tearDown() noexcept {
  bool ok = true;
  if (config_published_) demo::withdrawCurrentConfig(configPath().string());
  try {
    const fs::path pid_file = dataDir() / "postmaster.pid";
    if (start_attempted_ && !fs::exists(pid_file)) {
      // An interrupted pg_ctl may leave a postmaster that has not yet written
      // its pid file.
      for (int i = 0; i < 20 && !fs::exists(pid_file); ++i) std::this_thread::sleep_for(50ms);
    }
    if (!bin_dir_.empty() && fs::exists(pid_file)) {
      std::cout << "demo: stopping PostgreSQL\n" << std::flush;
      bool stopped = false;
      for (const char* mode : {"fast", "immediate"}) {
        try {
          run("stopping PostgreSQL (pg_ctl stop -m " + std::string(mode) + ")",
              {.argv = asPostgres({bin("pg_ctl").string(), "-D", dataDir().string(), "-m", mode,
                                   "-w", "-t", "30", "stop"}),
               .cwd = pgDir().string(),
               .timeout = 45s,
               .interruptible = false});
          stopped = true;
          break;
        } catch (const DemoError& e) {
          std::cerr << "pgwarden demo: " << e.what() << "\n";
        }
      }
      ok = stopped;
    }
    if (owns_dir_ && !dir_.empty()) {
      if (!ok) {
        std::cerr << "pgwarden demo: PostgreSQL may still be running; keeping " << dir_.string()
                  << "\n";
      } else {
        std::error_code ec;
        fs::remove_all(dir_, ec);
        if (ec) {
          std::cerr << "pgwarden demo: removing " << dir_.string() << " failed: " << ec.message()
                    << "\n";
          ok = false;
        } else {
          std::cout << "demo: removed " << dir_.string() << "\n";
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "pgwarden demo: cleanup failed: " << e.what() << "\n";
    ok = false;
  }
  return ok;
}

}  // namespace

int runDemo(const DemoOptions& options,
            const std::function<int(const std::string& config_path)>& serve) {
  demo::InterruptGuard::reset();
  std::optional<demo::InterruptGuard> guard;
  guard.emplace();
  std::optional<Demo> state;
  int code = 1;
  try {
    state.emplace(options);
    state->setUp();
    state->printBanner();
    guard.reset();  // while the gateway runs, SIGINT/SIGTERM are its business
    code = serve(state->configPath().string());
    guard.emplace();
  } catch (const std::exception& e) {
    guard.emplace();
    std::cerr << "pgwarden demo: " << e.what() << "\n";
    if (demo::interrupted()) std::cerr << "pgwarden demo: interrupted; cleaning up\n";
  } catch (...) {
    guard.emplace();
    std::cerr << "pgwarden demo: unexpected error; cleaning up\n";
  }
  if (state && !state->tearDown() && code == 0) code = 1;
  return code;
}

}  // namespace pgw::app
