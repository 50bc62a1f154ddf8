#ifndef DLLM_CZMQ_SHIM_H
#define DLLM_CZMQ_SHIM_H
// ZeroMQ (Debian: libzmq3-dev). Declared without pkg-config: libzmq.pc
// carries an -isystem flag that SwiftPM rejects.
#include <zmq.h>
#endif
