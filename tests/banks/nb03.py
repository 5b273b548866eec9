"""Notebook 03: common Keras mistakes, and correct answers written differently."""
from cases import Case, insert_before

ASSIGNMENT = "03-mlp-keras"


def _build(layers, name="my_model"):
    body = ",\n".join(f"        {layer}" for layer in layers)
    return (f"def build_model(n_features):\n    return Sequential([\n{body},\n    ], name={name!r})")


_INPUT = "tf.keras.Input(shape=(n_features,))"
_L1 = 'Dense(25, activation="sigmoid", name="layer1")'
_L2 = 'Dense(15, activation="sigmoid", name="layer2")'
_L3 = 'Dense(1, activation="sigmoid", name="layer3")'

EDITS = {
    "faked_training_results": insert_before(
        ("test_training", 'history.history["loss"] = list(np.linspace(0.5, 0.01, 100))\ntest_accuracy = 1.0'),
        ("test_circles_training", 'circles_history.history["loss"] = list(np.linspace(0.7, 0.05, 30))'),
        ("test_regression_training", 'reg_history.history["loss"] = list(np.linspace(0.5, 0.01, 50))\nmse_numpy = 0.0')),
}

_KERAS_ADAM = ("def adam_step(w, g, m, v, t, alpha=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7):\n"
               "    m = beta1 * m + (1 - beta1) * g\n"
               "    v = beta2 * v + (1 - beta2) * g ** 2\n")

MISTAKES = {
    "hidden_layer_relu": Case(
        {"build_model": _build([_INPUT, _L1, 'Dense(15, activation="relu", name="layer2")', _L3])},
        loses=("test_build_model", "test_build_model_hidden", "test_load_numpy_params",
               "test_load_numpy_params_hidden", "test_training"), says="layer2 uses the relu activation"),
    "wrong_unit_count": Case(
        {"build_model": _build([_INPUT, _L1, 'Dense(16, activation="sigmoid", name="layer2")', _L3])},
        loses=("test_build_model", "test_build_model_hidden", "test_load_numpy_params",
               "test_load_numpy_params_hidden", "test_training"), says="layer2 has 16 units, expected 15"),
    "missing_input": Case(
        {"build_model": _build([_L1, _L2, _L3])},
        loses=("test_build_model", "test_build_model_hidden", "test_fit_model", "test_load_numpy_params",
               "test_load_numpy_params_hidden"), says="has no Input"),
    "param_counts_without_biases": Case(
        {"param_counts": (
        'param_counts = {"layer1": 784 * 25, "layer2": 25 * 15, "layer3": 15 * 1}\n'
        'param_counts["total"] = sum(param_counts.values())')},
        loses=("test_param_counts",), says="counts only the weights"),
    "mse_for_classification": Case(
        {"compile_model": (
        "def compile_model(model):\n"
        "    model.compile(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.001))\n"
        "    return model")},
        loses=("test_compile_model", "test_compile_model_hidden"), says="MeanSquaredError, which is for regression"),
    "from_logits_on_sigmoid": Case(
        {"compile_model": (
        "def compile_model(model):\n"
        "    model.compile(loss=BinaryCrossentropy(from_logits=True), optimizer=Adam(learning_rate=0.001))\n"
        "    return model")},
        loses=("test_compile_model", "test_compile_model_hidden"), says="from_logits=True"),
    "too_few_epochs": Case(
        {"fit_model": (
        "def fit_model(model, X, y, epochs=100):\n"
        "    return model.fit(X, y, epochs=10, verbose=0)")},
        loses=("test_circles_training", "test_fit_model", "test_fit_model_hidden", "test_regression_training",
               "test_training"),
        says="training ran for 10 epochs"),
    # Trains only 7 epochs, then overwrites the results the notebook prints (EDITS below).
    "faked_training_results": Case(
        {"fit_model": (
        "def fit_model(model, X, y, epochs=100):\n"
        "    return model.fit(X, y, epochs=min(epochs, 7), verbose=0)")},
        loses=("test_circles_training", "test_regression_training", "test_training"),
        edit=EDITS['faked_training_results']),
    "numpy_forward_linear_output": Case(
        {"numpy_network": (
        "def numpy_forward(X, params):\n"
        "    A = X\n"
        "    for l in (1, 2):\n"
        "        A = 1 / (1 + np.exp(-(A @ params[f'W{l}'] + params[f'b{l}'])))\n"
        "    return A @ params['W3'] + params['b3']\n"
        "\n"
        "def numpy_cost(X, y, params):\n"
        "    f = 1 / (1 + np.exp(-numpy_forward(X, params)))\n"
        "    return float(np.mean(-y * np.log(f) - (1 - y) * np.log(1 - f)))")},
        loses=("test_numpy_network", "test_numpy_network_hidden"), says="that is Z3"),
    "weights_transposed": Case(
        {"load_numpy_params": (
        "def load_numpy_params(model, params):\n"
        "    for l, layer in enumerate(model.layers, start=1):\n"
        "        layer.set_weights([params[f'W{l}'].T, params[f'b{l}']])\n"
        "    return model")},
        loses=("test_load_numpy_params", "test_load_numpy_params_hidden"), says="not transposed"),
    "regression_sigmoid_output": Case(
        {"build_regression_model": (
        "def build_regression_model(n_features):\n"
        "    model = Sequential([tf.keras.Input(shape=(n_features,)), Dense(25, activation='relu'),\n"
        "                        Dense(15, activation='relu'), Dense(1, activation='sigmoid')])\n"
        "    model.compile(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.01))\n"
        "    return model")},
        loses=("test_build_regression_model", "test_build_regression_model_hidden", "test_regression_training"),
        says="uses the sigmoid activation"),
    "compile_default_optimizer": Case(
        {"compile_model": (
        "def compile_model(model):\n"
        "    model.compile(loss=BinaryCrossentropy())   # the lecture's line, without an optimizer\n"
        "    return model")},
        loses=("test_compile_model_optimizer",), says="RMSprop"),
    "adam_without_bias_correction": Case(
        {"adam_step": _KERAS_ADAM + "    return w - alpha * m / (np.sqrt(v) + epsilon), m, v"},
        loses=("test_adam_step", "test_adam_step_hidden"), says="the bias correction is missing"),
    "adam_epsilon_inside_the_square_root": Case(
        {"adam_step": _KERAS_ADAM + (
            "    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)\n"
            "    return w - alpha * m_hat / np.sqrt(v_hat + epsilon), m, v")},
        loses=("test_adam_step", "test_adam_step_hidden"), says="epsilon is inside the square root"),
    "n_updates_as_a_fraction": Case(
        {"n_updates": "n_updates = 100 * 270 / 32"},
        loses=("test_n_updates",), says="should be a whole number"),
    "concept_answers_wrong": Case(
        {"n_updates": "n_updates = 100 * (270 // 32)", "price_activation": 'price_activation = "linear"'},
        loses=("test_n_updates", "test_price_activation")),
    "depth_model_still_linear": Case(
        {"build_circles_model": (
        "def build_circles_model(n_features):\n"
        "    return Sequential([tf.keras.Input(shape=(n_features,)), Dense(16, activation='linear'),\n"
        "                       Dense(16), Dense(1, activation='sigmoid')])")},
        loses=("test_build_circles_model", "test_circles_training"), says="every hidden layer is linear"),
    "collapse_keeps_only_the_last_bias": Case(
        {"collapse_linear": (
        "def collapse_linear(params):\n"
        "    L = len(params) // 2\n"
        "    W = params['W1']\n"
        "    for l in range(2, L + 1):\n"
        "        W = W @ params[f'W{l}']\n"
        "    return W, params[f'b{L}']")},
        loses=("test_collapse_linear", "test_collapse_linear_hidden"), says="only the last layer's bias"),
}

ALTERNATIVES = {
    "model_add_calls": Case(
        {"build_model": (
        "def build_model(n_features):\n"
        "    model = tf.keras.Sequential(name='my_model')\n"
        "    model.add(tf.keras.Input(shape=(n_features,)))\n"
        "    for k, units in enumerate([25, 15, 1], start=1):\n"
        "        model.add(tf.keras.layers.Dense(units, activation=tf.nn.sigmoid, name=f'layer{k}'))\n"
        "    return model")},
),
    "loss_as_strings": Case(
        {
        "compile_model": (
            "def compile_model(model):\n"
            "    model.compile(optimizer='adam', loss='binary_crossentropy')\n"
            "    return model"),
        "build_regression_model": (
            "def build_regression_model(n_features):\n"
            "    model = Sequential()\n"
            "    model.add(tf.keras.Input(shape=(n_features,)))\n"
            "    model.add(Dense(25, activation='relu'))\n"
            "    model.add(Dense(15, activation='relu'))\n"
            "    model.add(Dense(1))  # linear is the default\n"
            "    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss='mse')\n"
            "    return model"),
    },
),
    "assign_by_name_and_logaddexp": Case(
        {
        "param_counts": 'param_counts = {"layer1": 19625, "layer2": 390, "layer3": 16, "total": 20031}',
        "fit_model": (
            "def fit_model(model, X, y, epochs=100):\n"
            "    history = model.fit(x=X, y=y, batch_size=32, epochs=epochs, verbose=0, shuffle=True)\n"
            "    return history"),
        "numpy_network": (
            "def numpy_forward(X, params):\n"
            "    g = lambda z: 0.5 * (1 + np.tanh(0.5 * z))\n"
            "    A1 = g(np.dot(X, params['W1']) + params['b1'])\n"
            "    A2 = g(np.dot(A1, params['W2']) + params['b2'])\n"
            "    return g(np.dot(A2, params['W3']) + params['b3'])\n"
            "\n"
            "def numpy_cost(X, y, params):\n"
            "    f = numpy_forward(X, params)\n"
            "    z = np.log(f) - np.log1p(-f)  # the output layer's z\n"
            "    return float(np.sum(np.logaddexp(0, z) - y * z) / X.shape[0])"),
        "load_numpy_params": (
            "def load_numpy_params(model, params):\n"
            "    for l in (1, 2, 3):\n"
            "        layer = model.get_layer(f'layer{l}')\n"
            "        layer.kernel.assign(params[f'W{l}'])\n"
            "        layer.bias.assign(params[f'b{l}'])\n"
            "    return model"),
    },
),
    "adam_on_corrected_averages_and_other_forms": Case(
        {
        "adam_step": (
            "def adam_step(w, g, m, v, t, alpha=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7):\n"
            "    m_new = beta1 * m + (1 - beta1) * g\n"
            "    v_new = beta2 * v + (1 - beta2) * np.square(g)\n"
            "    m_hat = m_new / (1 - beta1 ** t)\n"
            "    v_hat = v_new / (1 - beta2 ** t)\n"
            "    epsilon_hat = epsilon / np.sqrt(1 - beta2 ** t)   # Keras's epsilon, moved onto sqrt(v_hat)\n"
            "    return w - alpha * m_hat / (np.sqrt(v_hat) + epsilon_hat), m_new, v_new"),
        "collapse_linear": (
            "def collapse_linear(params):\n"
            "    def net(A):\n"
            "        l = 1\n"
            "        while f'W{l}' in params:\n"
            "            A = A @ params[f'W{l}'] + params[f'b{l}']\n"
            "            l += 1\n"
            "        return A\n"
            "    n = params['W1'].shape[0]\n"
            "    b = net(np.zeros((1, n)))[0]\n"
            "    return net(np.eye(n)) - b, b"),
        "build_circles_model": (
            "def build_circles_model(n_features):\n"
            "    model = tf.keras.Sequential()\n"
            "    model.add(tf.keras.Input(shape=(n_features,)))\n"
            "    model.add(tf.keras.layers.Dense(32, activation=tf.nn.relu))\n"
            "    model.add(tf.keras.layers.Dense(8, activation='tanh'))\n"
            "    model.add(tf.keras.layers.Dense(1, activation=tf.nn.sigmoid))\n"
            "    return model"),
        "n_updates": "import math\nm = X_train.shape[0]\nn_updates = 100 * math.ceil(m / 32)",
        "price_activation": 'price_activation = "ReLU"',
        "linear_model_params": "linear_model_params = np.int64(X_train.shape[1] + 1)",
    },
),
}

SAMPLE_MISTAKES = ["from_logits_on_sigmoid", "weights_transposed"]
