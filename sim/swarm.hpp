#pragma once
// Swarm runs: random scenarios drawn from a seed, in the manner of FoundationDB's simulation
// and TigerBeetle's VOPR. Each seed picks a topology within small limits, a workload, a set
// of enabled fault kinds (swarm testing: a run that never kills a proxy explores paths that
// one killing proxies all the time never reaches) and a timeline of faults from them.
//
// A swarm scenario expects nothing a random timeline cannot promise: no ratio of successful
// requests, only the invariants, and, when it is sound, that every agent is attached again
// and the directories agree by the end of the liveness phase (the heal restarts every dead
// process and ends every fault; a proxy that was drained stays draining, so liveness is
// expected only when some proxy never was).
//
// The scenario is produced as JSON and read back with parse_scenario, so the file a failing
// run writes is the very scenario that ran: `ccp sim FILE` replays it with the same trace.

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace ccp::sim {

// The scenario of swarm seed `seed`, as a scenario file's JSON (name "swarm-SEED", its
// `seed` is `seed`). Pure: the same seed gives the same JSON on every platform (the core's
// generator, no std distribution). Never throws but std::bad_alloc.
[[nodiscard]] nlohmann::json swarm_scenario(std::uint64_t seed);

}  // namespace ccp::sim
