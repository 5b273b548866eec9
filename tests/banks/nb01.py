"""Notebook 01: common logistic-regression mistakes, and correct answers written differently."""
from cases import Case

ASSIGNMENT = "01-logistic-regression"

_SOLUTION_COST = "def compute_cost(X, y, w, b):\n    z = X @ w + b\n    return float(np.mean(np.logaddexp(0.0, z) - y * z))"

MISTAKES = {
    "sigmoid_lecture_formula": Case(
        {"sigmoid": "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"},
        loses=("test_sigmoid_stable",), says="overflowed",
        what="the lecture's formula: right values, but e^1000 overflows at z = -1000"),
    "sigmoid_clipped": Case(
        {"sigmoid": "def sigmoid(z):\n    z = np.clip(z, -500, 500)\n    return 1 / (1 + np.exp(-z))"},
        loses=("test_sigmoid_stable",), says="exactly [0.0, 1.0]",
        what="no overflow, but clipping z moves g(-1000) off its exact limit 0"),
    "sigmoid_sign_flipped": Case(
        {"sigmoid": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(np.clip(z, -500, 500)))"},
        loses=("test_accuracy", "test_compute_gradient", "test_compute_gradient_hidden", "test_gradient_descent",
               "test_gradient_descent_hidden", "test_predict", "test_predict_hidden", "test_sigmoid",
               "test_sigmoid_hidden", "test_sigmoid_stable"), says="g(-z)"),
    "cost_missing_1_over_m": Case(
        {"compute_cost": ("def compute_cost(X, y, w, b):\n"
                          "    z = X @ w + b\n"
                          "    return float(np.sum(np.logaddexp(0.0, z) - y * z))")},
        loses=("test_accuracy", "test_compute_cost", "test_compute_cost_hidden"), says="1/m"),
    "cost_without_1_minus_y_term": Case(
        {"compute_cost": ("def compute_cost(X, y, w, b):\n"
                          "    f = sigmoid(X @ w + b)\n"
                          "    return float(np.mean(-y * np.log(f)))")},
        loses=("test_compute_cost", "test_compute_cost_hidden"), says="(1 - y) log(1 - f)"),
    "cost_hard_coded": Case(
        {"compute_cost": "def compute_cost(X, y, w, b):\n    return float((2 * np.log(4 / 3) + np.log(4)) / 3)"},
        # gradient_descent is right: its bookkeeping is judged by the student's own cost, constant here
        loses=("test_accuracy", "test_compute_cost_hidden")),
    "gradient_sign_flipped": Case(
        {"compute_gradient": ("def compute_gradient(X, y, w, b):\n"
                              "    err = y - sigmoid(X @ w + b)\n"
                              "    return X.T @ err / X.shape[0], float(np.mean(err))")},
        loses=("test_accuracy", "test_compute_gradient", "test_compute_gradient_hidden", "test_gradient_descent",
               "test_gradient_descent_hidden"), says="wrong sign"),
    "gradient_missing_1_over_m": Case(
        {"compute_gradient": ("def compute_gradient(X, y, w, b):\n"
                              "    err = sigmoid(X @ w + b) - y\n"
                              "    return X.T @ err, float(np.sum(err))")},
        loses=("test_compute_gradient", "test_compute_gradient_hidden", "test_gradient_descent",
               "test_gradient_descent_hidden"), says="1/m"),
    "gradient_transposed_product": Case(
        {"compute_gradient": ("def compute_gradient(X, y, w, b):\n"
                              "    err = sigmoid(X @ w + b) - y\n"
                              "    return X @ err / X.shape[0], float(np.mean(err))")},
        loses=("test_accuracy", "test_compute_gradient", "test_compute_gradient_hidden", "test_gradient_descent",
               "test_gradient_descent_hidden", "test_gradient_descent_history",
               "test_gradient_descent_history_hidden"), says="shapes do not fit"),
    "gd_b_gradient_forgotten": Case(
        {"gradient_descent": (
        "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
        "    w, b, J_history = w_in.copy(), b_in, []\n"
        "    for _ in range(num_iters):\n"
        "        dj_dw, dj_db = compute_gradient(X, y, w, b)\n"
        "        w = w - alpha * dj_dw\n"
        "        J_history.append(compute_cost(X, y, w, b))\n"
        "    return w, b, J_history")},
        loses=("test_gradient_descent", "test_gradient_descent_hidden"), says="b did not move"),
    "gd_cost_recorded_before_update": Case(
        {"gradient_descent": (
        "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
        "    w, b, J_history = w_in.copy(), b_in, []\n"
        "    for _ in range(num_iters):\n"
        "        J_history.append(compute_cost(X, y, w, b))\n"
        "        dj_dw, dj_db = compute_gradient(X, y, w, b)\n"
        "        w, b = w - alpha * dj_dw, b - alpha * dj_db\n"
        "    return w, b, J_history")},
        loses=("test_gradient_descent_history", "test_gradient_descent_history_hidden"),
        says="the cost before the update"),
    "gd_w_updated_in_place": Case(
        {"gradient_descent": (
        "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
        "    w, b, J_history = w_in, b_in, []\n"
        "    for _ in range(num_iters):\n"
        "        dj_dw, dj_db = compute_gradient(X, y, w, b)\n"
        "        w -= alpha * dj_dw\n"
        "        b -= alpha * dj_db\n"
        "        J_history.append(compute_cost(X, y, w, b))\n"
        "    return w, b, J_history")},
        loses=("test_gradient_descent_history", "test_gradient_descent_history_hidden"), says="modified in place"),
    "gd_not_simultaneous": Case(
        {"gradient_descent": (
        "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
        "    w, b, J_history = w_in.copy(), b_in, []\n"
        "    for _ in range(num_iters):\n"
        "        w = w - alpha * compute_gradient(X, y, w, b)[0]\n"
        "        b = b - alpha * compute_gradient(X, y, w, b)[1]\n"
        "        J_history.append(compute_cost(X, y, w, b))\n"
        "    return w, b, J_history")},
        loses=("test_gradient_descent",)),
    "gd_history_only_last_cost": Case(
        {"gradient_descent": (
        "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
        "    w, b = w_in.copy(), b_in\n"
        "    for _ in range(num_iters):\n"
        "        dj_dw, dj_db = compute_gradient(X, y, w, b)\n"
        "        w, b = w - alpha * dj_dw, b - alpha * dj_db\n"
        "    return w, b, [compute_cost(X, y, w, b)]")},
        loses=("test_accuracy", "test_gradient_descent_history", "test_gradient_descent_history_hidden"),
        says="10 costs after 10 iterations"),
    "predict_threshold_not_0_5": Case(
        {"predict": "def predict(X, w, b):\n    return (sigmoid(X @ w + b) >= 0.7).astype(int)"},
        loses=("test_predict", "test_predict_hidden")),
    "predict_not_thresholded": Case(
        {"predict": "def predict(X, w, b):\n    return sigmoid(X @ w + b)"},
        loses=("test_accuracy", "test_predict", "test_predict_hidden"), says="Threshold"),
    "predict_strict_threshold": Case(
        {"predict": "def predict(X, w, b):\n    return (sigmoid(X @ w + b) > 0.5).astype(int)"},
        loses=("test_predict",), says=">= 0.5"),
    "concept_parameters_without_b": Case(
        {"answer_1": "answer_1 = 64"}, loses=("test_answer_1",),
        what="concept check 1: counts the weights and forgets b"),
    "concept_loss_bounded_by_the_error": Case(
        {"answer_2": 'answer_2 = "b"'}, loses=("test_answer_2",),
        what="concept check 2: takes the loss for |f - y|"),
    "concept_threshold_on_z_at_one_half": Case(
        {"answer_3": "answer_3 = 0.5"}, loses=("test_answer_3",),
        what="concept check 3: puts the threshold 0.5 on z instead of on f"),
}

ALTERNATIVES = {
    "loops_everywhere": Case(
        {
        "sigmoid": (
            "import math\n"
            "def sigmoid(z):\n"
            "    z = np.asarray(z, dtype=float)\n"
            "    out = np.empty_like(z)\n"
            "    for i, v in np.ndenumerate(z):\n"
            "        out[i] = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))\n"
            "    return out"),
        "compute_cost": (
            "def compute_cost(X, y, w, b):\n"
            "    m, n = X.shape\n"
            "    total = 0.0\n"
            "    for i in range(m):\n"
            "        z = b\n"
            "        for j in range(n):\n"
            "            z += w[j] * X[i, j]\n"
            "        f = sigmoid(z)\n"
            "        total += -y[i] * np.log(f) - (1 - y[i]) * np.log(1 - f)\n"
            "    return float(total / m)"),
        "compute_gradient": (
            "def compute_gradient(X, y, w, b):\n"
            "    m, n = X.shape\n"
            "    dj_dw, dj_db = np.zeros(n), 0.0\n"
            "    for i in range(m):\n"
            "        err = sigmoid(np.dot(X[i], w) + b) - y[i]\n"
            "        for j in range(n):\n"
            "            dj_dw[j] += err * X[i, j]\n"
            "        dj_db += err\n"
            "    return dj_dw / m, dj_db / m"),
    },
),
    "tanh_sigmoid_and_np_dot": Case(
        {
        "sigmoid": "def sigmoid(z):\n    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))",
        "compute_cost": (
            "def compute_cost(X, y, w, b):\n"
            "    f = sigmoid(np.dot(X, w) + b)\n"
            "    return float(-np.mean(y * np.log(f) + (1 - y) * np.log(1 - f)))"),
        "compute_gradient": (
            "def compute_gradient(X, y, w, b):\n"
            "    err = sigmoid(np.dot(X, w) + b) - y\n"
            "    return np.dot(err, X) / len(y), np.sum(err) / len(y)"),
        "predict": "def predict(X, w, b):\n    return np.where(np.dot(X, w) + b >= 0, 1, 0)",
    },
),
    "masked_sigmoid_and_in_place_on_a_copy": Case(
        {
        "sigmoid": (
            "def sigmoid(z):\n"
            "    z = np.asarray(z, dtype=float)\n"
            "    out = np.empty_like(z)\n"
            "    pos = z >= 0\n"
            "    out[pos] = 1 / (1 + np.exp(-z[pos]))\n"
            "    ez = np.exp(z[~pos])\n"
            "    out[~pos] = ez / (1 + ez)\n"
            "    return out if out.ndim else float(out)"),
        "compute_cost": _SOLUTION_COST,
        "gradient_descent": (
            "def gradient_descent(X, y, w_in, b_in, alpha, num_iters):\n"
            "    w = w_in.astype(float)  # astype copies\n"
            "    b = b_in\n"
            "    J_history = np.zeros(num_iters)\n"
            "    for k in range(num_iters):\n"
            "        dj_dw, dj_db = compute_gradient(X, y, w, b)\n"
            "        w -= alpha * dj_dw\n"
            "        b -= alpha * dj_db\n"
            "        J_history[k] = compute_cost(X, y, w, b)\n"
            "    return w, b, J_history"),
    },
),
    "scipy_expit_and_concept_answers_written_differently": Case(
        {
        "sigmoid": "from scipy.special import expit\n\ndef sigmoid(z):\n    return expit(z)",
        "answer_1": "answer_1 = 65.0",
        "answer_2": 'answer_2 = " C "',
        "answer_3": "answer_3 = np.float64(-0.0)",
    },
),
}

SAMPLE_MISTAKES = ["sigmoid_lecture_formula", "cost_missing_1_over_m", "gd_cost_recorded_before_update",
                   "predict_threshold_not_0_5", "concept_parameters_without_b"]
