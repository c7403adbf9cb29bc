#include "driver/worker_impl.h"

#include "net/asio_loop.h"
#include "net/uring_loop.h"

namespace ws::driver {

template class Worker<net::UringLoop>;
template class Worker<net::AsioLoop>;

}  // namespace ws::driver
