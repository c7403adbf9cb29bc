// The embedded broker is tools/brokers/mock_cluster.h's MockCluster; this name stays until every
// include has moved there.
#pragma once

#include "tools/brokers/mock_cluster.h"

namespace ws::tools {
using EmbeddedBroker = ws::brokers::MockCluster;
}  // namespace ws::tools
