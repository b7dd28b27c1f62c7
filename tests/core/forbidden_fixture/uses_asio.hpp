#pragma once
// Fixture for core.forbidden_includes_detects_violation: breaks the rule on purpose.
#include <boost/asio.hpp>
