# Runs the real ccp binary with bad arguments: each is named on stderr with exit status 2
# (a usage error), before any bus is tried. A message the core would refuse (a bad type, a
# ccp.* type, a body that is not JSON), a seed that is not a number, a daemon address of
# the wrong kind or a group, an agent without proxies. The buses given are unreachable: a
# command that went on to connect would exit 1 (cannot start), as the last checks show.
function(expect_exit expected_rc expected_err)
  execute_process(COMMAND ${CCP} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 20)
  if(NOT rc EQUAL expected_rc)
    message(FATAL_ERROR "ccp ${ARGN}: exit ${rc}, expected ${expected_rc}\n${out}${err}")
  endif()
  string(FIND "${err}" "${expected_err}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "ccp ${ARGN}: printed\n${err}expected it to contain\n${expected_err}")
  endif()
endfunction()
set(bus nats://127.0.0.1:1)
expect_exit(2 "ccp request: body '{bad' is not JSON: parse error at line 1, column 2"
            request ccp://endpoint/any ping "{bad" --backbone ${bus})
expect_exit(2 "ccp request: type 'Ping': expected 1 to 64 bytes of a-z, 0-9"
            request ccp://endpoint/any Ping --backbone ${bus})
expect_exit(2 "ccp send: type 'ccp.hb': ccp.* types belong to the protocol"
            send ccp://endpoint/any ccp.hb --backbone ${bus})
expect_exit(2 "ccp endpoint: --answer: body '{1' is not JSON"
            endpoint --address ccp://endpoint/h1/e1 --answer "status={1" --host-bus ${bus})
expect_exit(2 "ccp endpoint: --request: type 'a b': expected"
            endpoint --address ccp://endpoint/h1/e1 --request ccp://mgmt/any --type "a b"
            --host-bus ${bus})
expect_exit(2 "ccp mgmt: --seed 'x1': expected a number from 0 to"
            mgmt --seed x1 --backbone ${bus})
expect_exit(2 "ccp proxy: --address 'ccp://agent/all': expected a concrete proxy address"
            proxy --address ccp://agent/all --backbone ${bus})
expect_exit(2 "ccp endpoint: --address 'ccp://endpoint/h1/any': expected a concrete endpoint"
            endpoint --address ccp://endpoint/h1/any --host-bus ${bus})
expect_exit(2 "ccp agent: option --proxy is required"
            agent --address ccp://agent/h1/agent --host-bus ${bus})
expect_exit(2 "ccp agent: --proxy: proxy URL 'http://p1': expected ws://host:port"
            agent --address ccp://agent/h1/agent --proxy http://p1 --host-bus ${bus})
expect_exit(2 "ccp agent: --endpoints 'a b': bad id"
            agent --address ccp://agent/h1/agent --proxy ws://127.0.0.1:7700 --endpoints "a b"
            --host-bus ${bus})
expect_exit(2 "ccp agents: --address 'ccp://proxy/h1/p1': expected a concrete mgmt address"
            agents --address ccp://proxy/h1/p1 --backbone ${bus})
# A bus URL of the wrong shape is a usage error (it was exit 1, as if the bus were down).
expect_exit(2 "ccp request: --backbone 'nats://127.0.0.1:port': server '127.0.0.1:port': bad port"
            request ccp://endpoint/any ping --backbone nats://127.0.0.1:port)
expect_exit(2 "ccp endpoint: --host-bus 'tcp://h:1': expected nats://"
            endpoint --address ccp://endpoint/h1/e1 --host-bus tcp://h:1)
# Where a bad value came from: the command's own environment variable.
set(ENV{CCP_MGMT_SEED} "x2")
expect_exit(2 "ccp mgmt: CCP_MGMT_SEED 'x2': expected a number" mgmt --backbone ${bus})
unset(ENV{CCP_MGMT_SEED})
# Good arguments, no bus: the daemon cannot start.
expect_exit(1 "ccp agent: bus URL '${bus}': no NATS server reachable"
            agent --address ccp://agent/h1/agent --proxy ws://127.0.0.1:7700 --host-bus ${bus})
expect_exit(1 "ccp endpoint: bus URL '${bus}': no NATS server reachable"
            endpoint --address ccp://endpoint/h1/e1 --host-bus ${bus})

# --version and `ccp help COMMAND` on stdout, exit 0.
function(expect_out expected_out)
  execute_process(COMMAND ${CCP} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 20)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ccp ${ARGN}: exit ${rc}, expected 0\n${out}${err}")
  endif()
  string(FIND "${out}" "${expected_out}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "ccp ${ARGN}: printed\n${out}expected it to contain\n${expected_out}")
  endif()
endfunction()
expect_out("ccp ${VERSION}\n" --version)
expect_out("usage: ccp request ADDRESS TYPE [JSON] [options]" help request)
expect_out("usage: ccp agent [options]" agent --help)

# A proxy that accepts every agent on a non-loopback address says so at start-up; it stops
# cleanly on SIGTERM.
execute_process(COMMAND timeout --preserve-status -s TERM 2 ${CCP} proxy --address ccp://proxy/h/p1
                        --listen 0.0.0.0:0 --backbone inproc://open
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 20)
string(FIND "${err}" "ccp proxy: warning: no --secret-file, --secret or --tokens" at)
if(NOT rc EQUAL 0 OR at EQUAL -1)
  message(FATAL_ERROR "ccp proxy on 0.0.0.0 without a secret: exit ${rc}\n${err}")
endif()
execute_process(COMMAND timeout --preserve-status -s TERM 2 ${CCP} proxy --address ccp://proxy/h/p1
                        --listen 127.0.0.1:0 --backbone inproc://open
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 20)
string(FIND "${err}" "warning" at)
if(NOT rc EQUAL 0 OR NOT at EQUAL -1)
  message(FATAL_ERROR "ccp proxy on loopback: exit ${rc}, expected no warning\n${err}")
endif()
