"""Measure how notebook 03's training outcomes spread over seeds, to set the bands its tests grade.

Not a pytest test (it takes minutes): run it by hand after changing notebook 03's training,

    .venv/bin/python tests/measure_keras_bands.py [--seeds 20] [--jobs 2]

It runs the solution notebook's own code (its import cell and the cells defining build_model,
compile_model, fit_model, build_circles_model, build_regression_model and with_hidden_activation)
exactly as the notebook's training cells do, with seed s for the initial weights and seed s + 100 for
the order of batches, and prints min / median / max of:

- the digits model's cost on the training digits after 100 epochs, and its held-out accuracy
  (test_training);
- the same network with ReLU hidden layers after 50 epochs (the activations section, not graded);
- on the rings (make_circles, random_state=0, the last 100 of 400 points held out), after 30 epochs
  with Adam(0.01): the held-out accuracy of the solution's build_circles_model (test_circles_training);
  logistic regression, the notebook's contrast, is scikit-learn's exact optimum, the same on every seed
  (held-out accuracy 0.46, f(x) between 0.488 and 0.512: not graded, not measured here);
- the regression model's MSE after 50 epochs (test_regression_training).

Measured with TensorFlow 2.21 / Keras 3.15 on 2 CPU cores, seeds 0-19 (min / median / max):
digits cost 0.0077 / 0.0112 / 0.0216, held-out accuracy 1.000 on every seed; ReLU cost after 50 epochs
0.0009 / 0.0017 / 0.0030; rings: the network's held-out accuracy 0.99 / 1.00 / 1.00; regression MSE
after 50 epochs 0.0100 / 0.0104 / 0.0109. The notebook's bands: cost < 0.05, accuracy >= 0.97, rings
accuracy >= 0.9, regression MSE < 0.03.
Each seed takes about 30 s on an idle machine (over a minute on a loaded one).
"""
import argparse
import os
import sys
from multiprocessing import Pool

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NOTEBOOK = os.path.join(REPO, "solutions", "03-mlp-keras", "mlp_keras.ipynb")
CELLS = ("imports", "build_model", "compile_model", "fit_model", "build_circles_model", "build_regression_model",
         "with_hidden_activation", "circles_data")


def solution_namespace():
    """Run the solution notebook's import cell and defining cells; return their namespace."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    namespace = {"__name__": "notebook03"}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in CELLS:
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            exec(compile(source, cell.metadata["nbgrader"]["grade_id"], "exec"), namespace)
    return namespace


def measure(seed):
    """One seed: (digits cost, held-out accuracy, ReLU cost, regression MSE), computed as the tests do."""
    ns = solution_namespace()
    np, tf = ns["np"], ns["tf"]
    X_train, X_test, y_train, y_test = ns["load_digits_01"](test_size=0.25, seed=0, column=True)

    tf.keras.utils.set_random_seed(seed)
    model = ns["build_model"](X_train.shape[1])
    initial_weights = model.get_weights()
    model = ns["compile_model"](model)
    tf.keras.utils.set_random_seed(seed + 100)
    ns["fit_model"](model, X_train, y_train, epochs=100)
    p_train = np.clip(model.predict(X_train, verbose=0).astype(float), 1e-7, 1 - 1e-7)
    cost = float(-np.mean(y_train * np.log(p_train) + (1 - y_train) * np.log(1 - p_train)))
    accuracy = float(np.mean((model.predict(X_test, verbose=0) >= 0.5) == y_test))

    relu_model = ns["compile_model"](ns["with_hidden_activation"](ns["build_model"](X_train.shape[1]), "relu"))
    relu_model.set_weights(initial_weights)
    tf.keras.utils.set_random_seed(seed + 100)
    relu_cost = ns["fit_model"](relu_model, X_train, y_train, epochs=50).history["loss"][-1]

    Xc_train, yc_train, Xc_test, yc_test = (ns[k] for k in ("X_circ_train", "y_circ_train", "X_circ_test",
                                                            "y_circ_test"))
    tf.keras.utils.set_random_seed(seed)
    circles = ns["build_circles_model"](2)
    circles.compile(loss=ns["BinaryCrossentropy"](), optimizer=ns["Adam"](learning_rate=0.01))
    tf.keras.utils.set_random_seed(seed + 100)
    ns["fit_model"](circles, Xc_train, yc_train, epochs=30)
    circles_accuracy = float(np.mean((circles.predict(Xc_test, verbose=0) >= 0.5) == yc_test))

    X_reg, y_reg = ns["make_regression_data"](m=200, seed=0)
    tf.keras.utils.set_random_seed(seed)
    reg_model = ns["build_regression_model"](X_reg.shape[1])
    ns["fit_model"](reg_model, X_reg, y_reg, epochs=50)
    mse = float(np.mean((reg_model.predict(X_reg, verbose=0) - y_reg) ** 2))
    row = (seed, cost, accuracy, relu_cost, circles_accuracy, mse)
    print("seed %2d  cost %.4f  accuracy %.3f  relu cost %.5f  rings: network %.3f  "
          "regression MSE %.4f" % row, flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    with Pool(args.jobs, maxtasksperchild=1) as pool:
        rows = pool.map(measure, range(args.seeds), chunksize=1)
    import numpy as np

    print(f"\nover {len(rows)} seeds: min / median / max")
    for k, name in enumerate(["digits cost after 100 epochs", "held-out accuracy", "ReLU cost after 50 epochs",
                              "rings: the network's held-out accuracy",
                              "regression MSE after 50 epochs"], start=1):
        values = np.array([row[k] for row in rows])
        print(f"  {name:38s} {values.min():.4f} / {np.median(values):.4f} / {values.max():.4f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    sys.exit(main())
