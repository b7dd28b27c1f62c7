// The baseline of `ccp request`'s whole-process time: a raw libnats request client that
// connects, sends one request, prints the reply and exits (`--respond` runs the responder
// it asks). Nothing of ccp is linked in: only libnats, as a user's own tool would be.
//
//   ccp_raw_request --nats nats://127.0.0.1:4222 --respond bench.echo   # until killed
//   ccp_raw_request --nats nats://127.0.0.1:4222 --subject bench.echo   # one request
//
// Exit status: 0 when the reply came, 1 when it did not (or no connection), 2 on a usage
// error.
#include <nats/nats.h>

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

void answer(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  if (natsMsg_GetReply(m) != nullptr)
    (void)natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m),
                                 natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

volatile std::sig_atomic_t stop = 0;
void on_signal(int) {
  stop = 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222", subject = "bench.echo", respond;
  long timeout_ms = 5000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return std::fprintf(stderr, "usage: %s [--nats URL] [--subject S | --respond S]\n", argv[0]),
             2;
    if (a == "--nats")
      url = argv[++i];
    else if (a == "--subject")
      subject = argv[++i];
    else if (a == "--respond")
      respond = argv[++i];
    else if (a == "--timeout-ms")
      timeout_ms = std::strtol(argv[++i], nullptr, 10);
    else
      return std::fprintf(stderr, "unknown option %s\n", a.c_str()), 2;
  }
  natsConnection* nc = nullptr;
  if (natsStatus s = natsConnection_ConnectTo(&nc, url.c_str()); s != NATS_OK)
    return std::fprintf(stderr, "connect %s: %s\n", url.c_str(), natsStatus_GetText(s)), 1;
  int status = 0;
  if (!respond.empty()) {
    natsSubscription* sub = nullptr;
    if (natsConnection_Subscribe(&sub, nc, respond.c_str(), answer, nullptr) != NATS_OK) return 1;
    (void)natsConnection_Flush(nc);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::printf("responding on %s\n", respond.c_str());
    std::fflush(stdout);
    while (stop == 0)
      ::usleep(50 * 1000);
    natsSubscription_Destroy(sub);
  } else {
    natsMsg* reply = nullptr;
    natsStatus s =
        natsConnection_RequestString(&reply, nc, subject.c_str(), R"({"client":1})", timeout_ms);
    if (s == NATS_OK) {
      std::printf("%.*s\n", natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
      natsMsg_Destroy(reply);
    } else {
      std::fprintf(stderr, "request: %s\n", natsStatus_GetText(s));
      status = 1;
    }
  }
  natsConnection_Destroy(nc);
  nats_Close();
  return status;
}
