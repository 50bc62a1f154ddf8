#ifndef DLLM_CMPI_SHIM_H
#define DLLM_CMPI_SHIM_H
// OpenMPI (Debian: libopenmpi-dev). MPI's handles are macros over global
// structs that Swift cannot import, so each gets a static inline accessor.
#include <mpi.h>

static inline MPI_Comm dllm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm dllm_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype dllm_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype dllm_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype dllm_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype dllm_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype dllm_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype dllm_mpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Op dllm_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op dllm_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op dllm_mpi_min(void) { return MPI_MIN; }
static inline void *dllm_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request dllm_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *dllm_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int dllm_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int dllm_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int dllm_mpi_success(void) { return MPI_SUCCESS; }
static inline MPI_Errhandler dllm_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
#endif
