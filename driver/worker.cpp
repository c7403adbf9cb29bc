#include "driver/worker_impl.h"

#include "net/asio_loop.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"

namespace ws::driver {

template class Worker<net::UringLoop>;
template class Worker<net::AsioLoop>;
// security.protocol=SSL / SASL_SSL: the same workers over TLS (the plain loops stay TLS-free).
template class Worker<net::TlsLoop<net::UringLoop>>;
template class Worker<net::TlsLoop<net::AsioLoop>>;

}  // namespace ws::driver
