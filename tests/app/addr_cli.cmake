# Runs the real ccp binary: `ccp addr` output and exit status, as a user sees them.
function(expect_run expected_rc expected_out)
  execute_process(COMMAND ${CCP} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expected_rc)
    message(FATAL_ERROR "ccp ${ARGN}: exit ${rc}, expected ${expected_rc}\n${out}${err}")
  endif()
  if(NOT out STREQUAL expected_out)
    message(FATAL_ERROR "ccp ${ARGN}: printed\n${out}expected\n${expected_out}")
  endif()
endfunction()
expect_run(0 "ccp://endpoint/10.0.0.7/billing-1\nccp://agent/all\n"
           addr ccp://endpoint/10.0.0.7/billing-1 ccp://agent/all)
expect_run(0 "ccp://endpoint/web.example.com/any\n" addr ccp://endpoint/WEB.Example.COM/any)
expect_run(1 "ccp://proxy/any\nerror: type must be mgmt, proxy, agent or endpoint at offset 6\n"
           addr ccp://proxy/any ccp://bogus/all)
expect_run(2 "" addr)
