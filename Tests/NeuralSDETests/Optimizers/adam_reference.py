# Reference values for AdamTests.testFirstThreeUpdatesMatchReference, written
# out from the update rule of torch.optim.AdamW (decoupled weight decay, bias
# correction) in plain Python double precision. Run: python3 adam_reference.py
import math

a = [1.0, 10.0, 0.1]
c = [0.0, 1.0, -1.0]
theta = [1.0, -2.0, 0.5]
lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.01
m = [0.0] * 3
v = [0.0] * 3
for t in range(1, 4):
    g = [a[i] * (theta[i] - c[i]) for i in range(3)]
    for i in range(3):
        theta[i] -= lr * wd * theta[i]
        m[i] = b1 * m[i] + (1 - b1) * g[i]
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
        mhat = m[i] / (1 - b1 ** t)
        vhat = v[i] / (1 - b2 ** t)
        theta[i] -= lr * mhat / (math.sqrt(vhat) + eps)
    print(t, [repr(x) for x in theta])
