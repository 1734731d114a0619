import numpy as np, sys, time
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import KFold
from scipy.stats import pearsonr
L = np.load("/tmp/explore/layers.npy"); y = np.load("/tmp/explore/y.npy"); g = np.load("/tmp/explore/groups.npy")
extra = {}
for n in ("logits", "color"):
    try: extra[n] = np.load(f"/tmp/explore/{n}.npy")
    except FileNotFoundError: pass
nm = L.shape[1] // 2
# mean/std split per layer: layout is per layer [mean c, std c]
ch = [24,32,64,96,160,320,1280]
mean_idx, std_idx, o = [], [], 0
for c in ch:
    mean_idx += list(range(o, o+c)); std_idx += list(range(o+c, o+2*c)); o += 2*c
layer_idx = {}
o=0
for k,c in enumerate(ch):
    layer_idx[k]=list(range(o,o+2*c)); o+=2*c
alphas = np.logspace(-1, 5, 25)
def model():
    return make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
def r2(a,b): return [pearsonr(a[:,j], b[:,j])[0] for j in range(2)]
def evaluate(F, name):
    E, O = g == "emotion6", g == "oasis"
    res = {}
    for sname, m in (("E6", E), ("OASIS", O)):
        Fm, ym = F[m], y[m]; pred = np.zeros_like(ym); predj = np.zeros_like(ym)
        other = ~m
        for tr, te in KFold(5, shuffle=True, random_state=0).split(Fm):
            mdl = model().fit(Fm[tr], ym[tr]); pred[te] = mdl.predict(Fm[te])
            mdl = model().fit(np.vstack([Fm[tr], F[other]]), np.vstack([ym[tr], y[other]])); predj[te] = mdl.predict(Fm[te])
        res[sname] = r2(pred, ym); res[sname+"+joint"] = r2(predj, ym)
    res["E6->OASIS"] = r2(model().fit(F[E], y[E]).predict(F[O]), y[O])
    res["OASIS->E6"] = r2(model().fit(F[O], y[O]).predict(F[E]), y[E])
    print(name, F.shape[1], " ".join(f"{k}: {v[0]:.3f}/{v[1]:.3f}" for k, v in res.items()), flush=True)
which = sys.argv[1:] or ["all"]
t=time.time()
evaluate(L, "layers mean+std")
evaluate(L[:, mean_idx], "layers mean")
for k in range(7): evaluate(L[:, layer_idx[k]], f"layer {k}")
if "logits" in extra: evaluate(extra["logits"], "logits"); evaluate(np.hstack([L, extra["logits"]]), "layers+logits")
if "color" in extra: evaluate(np.hstack([L, extra["color"]]), "layers+color")
print(time.time()-t)
