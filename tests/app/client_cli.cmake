# Runs the real ccp binary: a bad argument (a message the core would refuse: a bad type,
# a ccp.* type, a body that is not JSON; a seed that is not a number) is named on stderr
# with exit status 2, before any bus is tried. The buses given are unreachable, so a
# command that went on to connect would fail otherwise.
function(expect_usage_error expected_err)
  execute_process(COMMAND ${CCP} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 20)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "ccp ${ARGN}: exit ${rc}, expected 2\n${out}${err}")
  endif()
  string(FIND "${err}" "${expected_err}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "ccp ${ARGN}: printed\n${err}expected it to contain\n${expected_err}")
  endif()
endfunction()
set(bus nats://127.0.0.1:1)
expect_usage_error("ccp request: body '{bad' is not JSON: parse error at line 1, column 2"
                   request ccp://endpoint/any ping "{bad" --backbone ${bus})
expect_usage_error("ccp request: type 'Ping': expected 1 to 64 bytes of a-z, 0-9"
                   request ccp://endpoint/any Ping --backbone ${bus})
expect_usage_error("ccp send: type 'ccp.hb': ccp.* types belong to the protocol"
                   send ccp://endpoint/any ccp.hb --backbone ${bus})
expect_usage_error("ccp endpoint: --answer: body '{1' is not JSON"
                   endpoint --address ccp://endpoint/h1/e1 --answer "status={1" --host-bus ${bus})
expect_usage_error("ccp endpoint: --request: type 'a b': expected"
                   endpoint --address ccp://endpoint/h1/e1 --request ccp://mgmt/any --type "a b"
                   --host-bus ${bus})
expect_usage_error("ccp mgmt: --seed 'x1': expected a number from 0 to"
                   mgmt --seed x1 --backbone ${bus})
