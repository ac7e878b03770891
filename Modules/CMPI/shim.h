// Open MPI's C interface. Its predefined handles (MPI_COMM_WORLD, MPI_DOUBLE,
// …) are macros over global objects that Swift cannot import: these inline
// functions return them.
#include <mpi.h>

static inline MPI_Comm nsde_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype nsde_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype nsde_mpi_int(void) { return MPI_INT; }
static inline MPI_Op nsde_mpi_max(void) { return MPI_MAX; }
static inline int nsde_mpi_success(void) { return MPI_SUCCESS; }
