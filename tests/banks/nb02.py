"""Notebook 02: common forward- and backpropagation mistakes, and correct answers written differently."""
from cases import Case, insert_before

ASSIGNMENT = "02-mlp-numpy"


def _backward_with(dz_line, back_line="            dZ = activation_backward(dA_prev, cache[f\"Z{l - 1}\"], activations[l - 2])"):
    """The solution's backward with its output-layer dZ line and its step through an activation replaced."""
    return (
        "def backward(y, params, cache, activations):\n"
        "    L = len(activations)\n"
        "    m = y.shape[0]\n"
        "    grads = {}\n"
        f"    {dz_line}\n"
        "    for l in range(L, 0, -1):\n"
        "        dA_prev, grads[f\"dW{l}\"], grads[f\"db{l}\"] = dense_backward(dZ, cache[f\"A{l - 1}\"], params[f\"W{l}\"])\n"
        "        if l > 1:\n"
        f"{back_line}\n"
        "    return grads")


def _activation_backward_with(sigmoid_line, relu_line="        return dA * (Z > 0)"):
    return (
        "def activation_backward(dA, Z, activation):\n"
        "    if activation == \"sigmoid\":\n"
        f"{sigmoid_line}\n"
        "    if activation == \"relu\":\n"
        f"{relu_line}\n"
        "    return dA")


def _dense_backward_with(dw_line, db_line="    db = np.sum(dZ, axis=0)"):
    return (
        "def dense_backward(dZ, A_prev, W):\n"
        "    m = dZ.shape[0]\n"
        "    dA_prev = dZ @ W.T\n"
        f"{dw_line}\n"
        f"{db_line}\n"
        "    return dA_prev, dW, db")


def _train_with(loop_body):
    return (
        "def train(X, y, layer_sizes, activations, alpha, epochs, seed):\n"
        "    params = init_params(layer_sizes, X.shape[1], seed)\n"
        "    cost_history = []\n"
        "    for _ in range(epochs):\n"
        f"{loop_body}\n"
        "    return params, cost_history")


_SIGMOID_EVERYWHERE = ("test_activation_backward", "test_activation_backward_hidden", "test_backward",
                       "test_backward_hidden", "test_predict", "test_predict_hidden", "test_sigmoid",
                       "test_sigmoid_hidden", "test_train", "test_train_hidden", "test_train_params_hidden",
                       "test_training")

EDITS = {
    "faked_training_results": insert_before(
        ("test_training", "cost_history = list(np.linspace(0.7, 0.001, 500))\ntest_accuracy = 1.0")),
}

MISTAKES = {
    # Step 1: the model. A wrong sigmoid spoils every sigmoid layer, but not the tests of dense and forward,
    # which use ReLU and linear layers, nor the output layer's gradient, which reads A from the cache.
    "sigmoid_sign_flipped": Case(
        {"sigmoid": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(z))"},
        # g(-z) has the same derivative g(1 - g) as g(z): activation_backward and backward still pass
        loses=("test_predict", "test_predict_hidden", "test_sigmoid", "test_sigmoid_hidden", "test_train",
               "test_train_hidden", "test_train_params_hidden", "test_training"), says="that is g(-z)"),
    "sigmoid_denominator_without_parentheses": Case(
        {"sigmoid": "def sigmoid(z):\n    return 1 / 1 + np.exp(-z)"},
        loses=_SIGMOID_EVERYWHERE, says="put the denominator in parentheses"),
    "sigmoid_with_math_exp": Case(
        {"sigmoid": "import math\n\ndef sigmoid(z):\n    return 1 / (1 + math.exp(-z))"},
        loses=_SIGMOID_EVERYWHERE, says="use np.exp"),
    "concept_weights_without_biases": Case(
        {"concept_n_params": "n_params = 64 * 25 + 25 * 15 + 15 * 1"}, loses=("test_concept_n_params",)),
    "concept_dZ2_shape_transposed": Case(
        {"concept_dZ2_shape": "dZ2_shape = (15, 100)"}, loses=("test_concept_dZ2_shape",)),
    "concept_one_column_per_unit": Case(
        {"concept_distinct_units": "distinct_units = 25"}, loses=("test_concept_distinct_units",)),
    "dense_W_transposed": Case(
        {"dense": "def dense(A_in, W, b, activation):\n    return g(A_in @ W.T + b, activation)"},
        loses=("test_dense", "test_dense_hidden"), says="shapes do not fit"),
    "dense_bias_forgotten": Case(
        {"dense": "def dense(A_in, W, b, activation):\n    return g(A_in @ W, activation)"},
        loses=("test_dense", "test_dense_hidden"), says="the bias b is missing"),
    "forward_hidden_activation_skipped": Case(
        {"forward": (
        "def forward(X, params, activations):\n"
        "    A, cache = X, {\"A0\": X}\n"
        "    for l, activation in enumerate(activations, start=1):\n"
        "        Z = A @ params[f\"W{l}\"] + params[f\"b{l}\"]\n"
        "        A = g(Z, activation) if l == len(activations) else Z\n"
        "        cache[f\"Z{l}\"], cache[f\"A{l}\"] = Z, A\n"
        "    return A, cache")},
        loses=("test_forward", "test_forward_cache_hidden", "test_forward_hidden", "test_predict_hidden",
               "test_train_hidden", "test_train_params_hidden"), says="apply each layer's own activation"),
    # Step 2: loss and cost
    "bce_missing_1_minus_y_term": Case(
        {"binary_cross_entropy": (
        "def binary_cross_entropy(y_hat, y):\n    return float(np.mean(-y * np.log(y_hat)))")},
        loses=("test_binary_cross_entropy", "test_binary_cross_entropy_hidden", "test_train", "test_train_hidden",
               "test_training"), says="add -(1 - y) log(1 - y_hat)"),
    "mse_with_one_half": Case(
        {"mean_squared_error": (
        "def mean_squared_error(y_hat, y):\n    return float(np.mean((y_hat - y) ** 2) / 2)")},
        loses=("test_mean_squared_error", "test_mean_squared_error_hidden"), says="1/2 convention"),
    # Step 3: backpropagation
    "sigmoid_derivative_of_Z_as_if_A": Case(
        {"activation_backward": _activation_backward_with(
        "        return dA * Z * (1 - Z)")},
        loses=("test_activation_backward", "test_activation_backward_hidden", "test_backward",
               "test_backward_hidden", "test_train", "test_train_hidden", "test_train_params_hidden", "test_training"),
        says="treating Z as the activation A"),
    "relu_derivative_one_at_the_kink": Case(
        {"activation_backward": _activation_backward_with(
        "        s = sigmoid(Z)\n        return dA * s * (1 - s)", "        return dA * (Z >= 0)")},
        loses=("test_activation_backward", "test_activation_backward_hidden"), says="at z = 0 exactly"),
    "dense_backward_dW_transposed": Case(
        {"dense_backward": _dense_backward_with("    dW = dZ.T @ A_prev")},
        loses=("test_backward_hidden", "test_backward_output_hidden", "test_dense_backward",
               "test_dense_backward_hidden", "test_train", "test_train_hidden", "test_train_params_hidden",
               "test_training"), says="transposed"),
    "dense_backward_1_over_m_again": Case(
        {"dense_backward": _dense_backward_with(
        "    dW = A_prev.T @ dZ / m", "    db = np.sum(dZ, axis=0) / m")},
        loses=("test_backward", "test_backward_hidden", "test_backward_output_hidden", "test_dense_backward",
               "test_dense_backward_hidden", "test_train", "test_train_hidden", "test_train_params_hidden",
               "test_training"), says="1/m is applied twice"),
    "db_not_summed": Case(
        {"dense_backward": _dense_backward_with("    dW = A_prev.T @ dZ", "    db = dZ")},
        loses=("test_backward", "test_backward_hidden", "test_backward_output_hidden", "test_dense_backward",
               "test_dense_backward_hidden", "test_train", "test_train_hidden", "test_train_params_hidden",
               "test_training"), says="sum over the examples"),
    "backward_missing_1_over_m": Case(
        {"backward": _backward_with("dZ = cache[f\"A{L}\"] - y")},
        loses=("test_backward", "test_backward_hidden", "test_backward_output_hidden", "test_train",
               "test_train_hidden", "test_train_params_hidden", "test_training"),
        says="the 1/m (mean over examples) is missing"),
    "backward_passes_A_to_activation_backward": Case(
        {"backward": _backward_with(
        "dZ = (cache[f\"A{L}\"] - y) / m",
        "            dZ = activation_backward(dA_prev, cache[f\"A{l - 1}\"], activations[l - 2])")},
        loses=("test_backward", "test_backward_hidden", "test_train_hidden", "test_train_params_hidden"),
        says="activation_backward takes Z"),
    "backward_activation_skipped": Case(
        {"backward": _backward_with(
        "dZ = (cache[f\"A{L}\"] - y) / m", "            dZ = dA_prev")},
        loses=("test_backward", "test_backward_hidden", "test_train_hidden", "test_train_params_hidden"),
        says="skipped on the way back"),
    "update_params_in_place": Case(
        {"update_params": (
        "def update_params(params, grads, alpha):\n"
        "    for key in params:\n"
        "        params[key] -= alpha * grads[\"d\" + key]\n"
        "    return params")},
        loses=("test_update_params_unchanged",), says="modified in place"),
    "update_params_uphill": Case(
        {"update_params": (
        "def update_params(params, grads, alpha):\n"
        "    return {key: value + alpha * grads[\"d\" + key] for key, value in params.items()}")},
        loses=("test_train", "test_train_hidden", "test_train_params_hidden", "test_training", "test_update_params",
               "test_update_params_hidden"), says="moved uphill"),
    "train_cost_recorded_after_update": Case(
        {"train": _train_with(
        "        A_out, cache = forward(X, params, activations)\n"
        "        params = update_params(params, backward(y, params, cache, activations), alpha)\n"
        "        cost_history.append(binary_cross_entropy(forward(X, params, activations)[0], y))")},
        loses=("test_train", "test_train_hidden"), says="before the update"),
    # Trains only 50 epochs, then overwrites the results the notebook prints (EDITS below).
    "faked_training_results": Case(
        {"train": (
        "def train(X, y, layer_sizes, activations, alpha, epochs, seed):\n"
        "    params = init_params(layer_sizes, X.shape[1], seed)\n"
        "    cost_history = []\n"
        "    for _ in range(min(epochs, 50)):\n"
        "        A_out, cache = forward(X, params, activations)\n"
        "        cost_history.append(binary_cross_entropy(A_out, y))\n"
        "        params = update_params(params, backward(y, params, cache, activations), alpha)\n"
        "    return params, cost_history")},
        loses=("test_training",), edit=EDITS['faked_training_results']),
    "predict_not_thresholded": Case(
        {"predict": (
        "def predict(X, params, activations):\n    return forward(X, params, activations)[0]")},
        loses=("test_predict", "test_predict_hidden", "test_training"), says="Threshold"),
    "predict_strict_threshold": Case(
        {"predict": (
        "def predict(X, params, activations):\n    return (forward(X, params, activations)[0] > 0.5).astype(int)")},
        loses=("test_predict",), says=">= 0.5"),
}

ALTERNATIVES = {
    "per_example_loops": Case(
        {
        "sigmoid": (
            "import math\n"
            "def sigmoid(z):\n"
            "    z = np.asarray(z, dtype=float)\n"
            "    out = np.empty_like(z)\n"
            "    for i, v in np.ndenumerate(z):\n"
            "        out[i] = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))\n"
            "    return out"),
        "concept_n_params": "n_params = np.int64(64 * 25 + 25 + 25 * 15 + 15 + 15 + 1)",
        "concept_dZ2_shape": "dZ2_shape = [100, 15]",
        "dense": (
            "def dense(A_in, W, b, activation):\n"
            "    Z = np.zeros((A_in.shape[0], W.shape[1]))\n"
            "    for i in range(A_in.shape[0]):\n"
            "        Z[i] = A_in[i] @ W + b\n"
            "    return g(Z, activation)"),
        "binary_cross_entropy": (
            "def binary_cross_entropy(y_hat, y):\n"
            "    total = 0.0\n"
            "    for p, t in zip(y_hat.ravel(), y.ravel()):\n"
            "        total += -np.log(p) if t == 1 else -np.log(1 - p)\n"
            "    return total / len(y)"),
        "dense_backward": (
            "def dense_backward(dZ, A_prev, W):\n"
            "    dA_prev, dW, db = np.zeros(A_prev.shape), np.zeros(W.shape), np.zeros(W.shape[1])\n"
            "    for i in range(dZ.shape[0]):\n"
            "        dA_prev[i] = W @ dZ[i]\n"
            "        dW += np.outer(A_prev[i], dZ[i])\n"
            "        db += dZ[i]\n"
            "    return dA_prev, dW, db"),
        "update_params": (
            "def update_params(params, grads, alpha):\n"
            "    new = {}\n"
            "    for key in params:\n"
            "        new[key] = params[key] - alpha * grads['d' + key]\n"
            "    return new"),
    },
),
    "sigmoid_prime_from_cache_A": Case(
        {
        "sigmoid": "def sigmoid(z):\n    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))",
        "activation_backward": (
            "def activation_backward(dA, Z, activation):\n"
            "    if activation == 'relu':\n"
            "        return np.where(Z > 0, dA, 0.0)\n"
            "    if activation == 'linear':\n"
            "        return dA.copy()\n"
            "    a = 0.5 * (1 + np.tanh(0.5 * Z))\n"
            "    return dA * a * (1 - a)"),
        "backward": (
            "def backward(y, params, cache, activations):\n"
            "    L = len(activations)\n"
            "    grads = {}\n"
            "    dZ = (cache['A' + str(L)] - y) / len(y)\n"
            "    for l in reversed(range(1, L + 1)):\n"
            "        A_prev = cache['A' + str(l - 1)]\n"
            "        grads['dW' + str(l)] = A_prev.T @ dZ\n"
            "        grads['db' + str(l)] = dZ.sum(axis=0)\n"
            "        if l > 1:\n"
            "            dA = dZ @ params['W' + str(l)].T\n"
            "            if activations[l - 2] == 'sigmoid':\n"
            "                dZ = dA * A_prev * (1 - A_prev)  # g'(z) = a (1 - a), a from the cache\n"
            "            else:\n"
            "                dZ = activation_backward(dA, cache['Z' + str(l - 1)], activations[l - 2])\n"
            "    return grads"),
        "update_params": (
            "def update_params(params, grads, alpha):\n"
            "    new = copy.deepcopy(params)\n"
            "    for key in new:\n"
            "        new[key] -= alpha * grads['d' + key]\n"
            "    return new"),
    },
),
    "one_over_m_at_the_end": Case(
        {
        "sigmoid": (
            "def sigmoid(z):\n"
            "    # the stable form of notebook 1: only ever exponentiates -|z|\n"
            "    z = np.asarray(z, dtype=float)\n"
            "    e = np.exp(-np.abs(z))\n"
            "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))"),
        "concept_n_params": "n_params = 2031",
        "concept_dZ2_shape": "m = 100\ndZ2_shape = (m, 15)",
        "backward": (
            "def backward(y, params, cache, activations):\n"
            "    L, m = len(activations), len(y)\n"
            "    grads = {}\n"
            "    dZ = cache[f'A{L}'] - y  # per-example dL/dZ; the 1/m comes with each gradient\n"
            "    for l in range(L, 0, -1):\n"
            "        grads[f'dW{l}'] = cache[f'A{l - 1}'].T @ dZ / m\n"
            "        grads[f'db{l}'] = np.mean(dZ, axis=0)\n"
            "        if l > 1:\n"
            "            dZ = activation_backward(dZ @ params[f'W{l}'].T, cache[f'Z{l - 1}'], activations[l - 2])\n"
            "    return grads"),
        "binary_cross_entropy": (
            "def binary_cross_entropy(y_hat, y):\n"
            "    p = np.clip(y_hat, 1e-7, 1 - 1e-7)  # as Keras does\n"
            "    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))"),
        "mean_squared_error": "def mean_squared_error(y_hat, y):\n    return np.square(y_hat - y).mean().item()",
        "predict": "def predict(X, params, activations):\n    return np.where(forward(X, params, activations)[0] >= 0.5, 1, 0)",
    },
),
    "general_output_gradient_and_forward_via_dense": Case(
        {
        "forward": (
            "def forward(X, params, activations):\n"
            "    cache = {'A0': X}\n"
            "    for l, act in enumerate(activations, start=1):\n"
            "        W, b = params[f'W{l}'], params[f'b{l}']\n"
            "        cache[f'Z{l}'] = np.dot(cache[f'A{l - 1}'], W) + b\n"
            "        cache[f'A{l}'] = dense(cache[f'A{l - 1}'], W, b, act)\n"
            "    return cache[f'A{len(activations)}'], cache"),
        "backward": (
            "def backward(y, params, cache, activations):\n"
            "    L, m = len(activations), y.shape[0]\n"
            "    A_L = cache[f'A{L}']\n"
            "    dA = (-y / A_L + (1 - y) / (1 - A_L)) / m  # dJ/dA of the cross-entropy, then through the sigmoid\n"
            "    grads = {}\n"
            "    for l in range(L, 0, -1):\n"
            "        dZ = activation_backward(dA, cache[f'Z{l}'], activations[l - 1])\n"
            "        dA, grads[f'dW{l}'], grads[f'db{l}'] = dense_backward(dZ, cache[f'A{l - 1}'], params[f'W{l}'])\n"
            "    return grads"),
        "train": (
            "def train(X, y, layer_sizes, activations, alpha, epochs, seed):\n"
            "    params = init_params(layer_sizes, X.shape[1], seed)\n"
            "    cost_history = np.zeros(epochs)\n"
            "    for epoch in range(epochs):\n"
            "        y_hat, cache = forward(X, params, activations)\n"
            "        cost_history[epoch] = binary_cross_entropy(y_hat, y)\n"
            "        params = update_params(params, backward(y, params, cache, activations), alpha)\n"
            "    return params, cost_history"),
    },
),
}

SAMPLE_MISTAKES = ["backward_missing_1_over_m", "db_not_summed", "update_params_in_place"]
