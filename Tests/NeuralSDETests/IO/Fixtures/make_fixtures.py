# Writes the interchange fixtures used by IOTests with the reference
# implementations (numpy, and the safetensors package's writer, the same one
# torch's safetensors.torch.save_file uses). Run: python3 make_fixtures.py
import numpy as np
from safetensors.numpy import save_file

# A reference-architecture model with d = 2, D = 2, H = 3 (diagonal noise), as
# a PyTorch state_dict of nn.Linear layers would name it.
d, D, H = 2, 2, 3
shapes = {
    "drift.0.weight": (H, d + 1), "drift.0.bias": (H,),
    "drift.1.weight": (H, H), "drift.1.bias": (H,),
    "drift.2.weight": (d, H), "drift.2.bias": (d,),
    "diffusion.0.weight": (H, d + 1), "diffusion.0.bias": (H,),
    "diffusion.1.weight": (d, H), "diffusion.1.bias": (d,),
    "posterior.0.weight": (H, D + 1), "posterior.0.bias": (H,),
    "posterior.1.weight": (H, H), "posterior.1.bias": (H,),
    "posterior.2.weight": (d, H), "posterior.2.bias": (d,),
    "decoder.0.weight": (D, d), "decoder.0.bias": (D,),
}
tensors = {}
for i, (name, shape) in enumerate(sorted(shapes.items())):
    n = int(np.prod(shape))
    tensors[name] = (np.arange(n, dtype=np.float32).reshape(shape) * 0.01 + i).astype(np.float32)
save_file(tensors, "tiny_reference_f32.safetensors", metadata={"source": "numpy"})

np.save("matrix_f8.npy", np.array([[1.5, -2.0], [3.25, 4.0], [0.0, -0.125]], dtype=np.float64))
np.save("matrix_f4_fortran.npy", np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)))
np.save("noise_f8.npy", np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2) / 10)
