#pragma once
// A raw HTTP/1.1 exchange for the REST API tests: the request goes out in
// one write, exactly as given, and the answer is read until the server
// closes the connection (it serves one request per connection). Used where
// an HTTP client library would add its own headers or split the request
// into several writes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

namespace pgw::api::testing {

struct RawReply {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;
  bool connected = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// Sends `raw` in one write to 127.0.0.1:port and reads the answer until the
/// server closes the connection.
inline RawReply roundTrip(uint16_t port, const std::string& raw) {
  RawReply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  reply.connected = true;
  for (size_t done = 0; done < raw.size();) {
    ssize_t n = ::send(fd, raw.data() + done, raw.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  ::close(fd);

  const size_t end = text.find("\r\n\r\n");
  if (end == std::string::npos || text.rfind("HTTP/1.1 ", 0) != 0) return reply;
  reply.status = std::atoi(text.c_str() + 9);
  reply.body = text.substr(end + 4);
  size_t pos = text.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = text.find("\r\n", pos);
    const std::string line = text.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  return reply;
}

}  // namespace pgw::api::testing
