#pragma once
// Bus subjects: the wire contract between ccp and NATS (or the in-process bus).
//
// Tokens. A host becomes one subject token: brackets dropped, '.' -> '_', ':' -> '~'
// (DNS names and IPv4 never contain '_' or '~', IPv6 has no '.', so the mapping is
// one-to-one). An id becomes one token with '.' -> '~' ('~' is not an id character).
//
// Backbone bus (mgmt nodes and proxies):
//   ccp.mgmt.H.ID, ccp.proxy.H.ID        one mgmt node / proxy            plain
//   ccp.mgmt.any, ccp.proxy.any          any one of the type              queue group ccp.mgmt /
//   ccp.proxy ccp.mgmt.all, ccp.proxy.all          all of the type                  plain
//   ccp.mgmt.H.any, ccp.proxy.H.any      any one on host H                queue group ccp.mgmt.H /
//   ccp.proxy.H ccp.mgmt.H.all, ccp.proxy.H.all      all on host H                    plain
//   ccp.host.H                           every agent/endpoint address on host H (concrete,
//                                        H/any, H/all): subscribed by the one proxy that
//                                        holds H's agent right now        plain
//   ccp.agent.any, ccp.endpoint.any      any agent / endpoint: subscribed by proxies that
//                                        hold at least one agent (with at least one
//                                        endpoint)                        queue group ccp.agent /
//                                        ccp.endpoint
//   ccp.agent.all, ccp.endpoint.all      all agents / endpoints: same subscribers, plain
//   ccp.ctl.route                        route announcements (attach, detach), all members
//   ccp.ctl.hb                           proxy heartbeats with route counts, all members
//
// Host bus (one agent and the endpoints of its host):
//   ccp.agent                            the agent's inbox: everything endpoints send
//   ccp.eps                              the agent's announcements to all endpoints
//   ccp.ep.ID                            endpoint ID's inbox, subscribed once registered
//   ccp.epi.NONCE                        one endpoint instance's registration replies
//
// Payloads. A message on any of these subjects is one frame (core/message.hpp, first byte
// 0xCC) or, from the NATS bus, a batch of frames for that subject (first byte 0xCB; format
// and rules in net/frame_batch.hpp). The in-process bus carries single frames only.

#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/subject_text.hpp"

namespace ccp::core {

// Appends the subject token for a canonical host / id.
void append_host_token(std::string_view host, std::string& out);
void append_id_token(std::string_view id, std::string& out);

// Backbone subject that carries messages to `to`. Every address has one.
[[nodiscard]] std::string backbone_subject(const address_view& to);
// The same built into a subject_text, for the publish action of a forwarded frame.
[[nodiscard]] subject_text backbone_subject_text(const address_view& to);
// Queue group for an `any` subject on the backbone, empty for plain subjects.
[[nodiscard]] std::string backbone_queue(const address_view& to);

[[nodiscard]] std::string host_subject(std::string_view host);  // ccp.host.H

inline constexpr std::string_view subject_route = "ccp.ctl.route";
inline constexpr std::string_view subject_heartbeat = "ccp.ctl.hb";
inline constexpr std::string_view subject_agent_inbox = "ccp.agent";
// Host bus: the agent's announcements to every endpoint (ccp.agent-up after a start).
inline constexpr std::string_view subject_endpoints = "ccp.eps";

[[nodiscard]] std::string endpoint_subject(std::string_view id);           // ccp.ep.ID
[[nodiscard]] std::string endpoint_instance_subject(std::uint64_t nonce);  // ccp.epi.N

}  // namespace ccp::core
