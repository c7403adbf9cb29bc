// InFlightRing: responses are matched to requests in order, across wrap-around and growth.
#include "driver/in_flight.h"

#include <gtest/gtest.h>

namespace ws::driver {
namespace {

InFlight request(int32_t correlation_id) {
  InFlight f;
  f.correlation_id = correlation_id;
  return f;
}

TEST(InFlightRing, KeepsRequestOrderWhenItGrowsWhileWrappedAround) {
  InFlightRing ring;
  ring.reset_capacity(3);
  int32_t next_sent = 0, next_answered = 0;
  // Wrap the head around first, so the growth has to straighten a wrapped ring.
  for (int i = 0; i < 2; ++i) ring.push(request(next_sent++));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ring.front().correlation_id, next_answered++);
    ring.pop();
  }
  // An acks=0 write of 10 requests: more than the capacity of 3.
  for (int i = 0; i < 10; ++i) ring.push(request(next_sent++));
  EXPECT_EQ(ring.size(), 10u);
  while (!ring.empty()) {
    EXPECT_EQ(ring.front().correlation_id, next_answered++);
    ring.pop();
  }
  EXPECT_EQ(next_answered, next_sent);
}

}  // namespace
}  // namespace ws::driver
