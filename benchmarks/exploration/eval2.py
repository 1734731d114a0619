import numpy as np, sys, time
from sklearn.linear_model import RidgeCV
from sklearn.svm import SVR
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, FunctionTransformer
from sklearn.model_selection import KFold
from scipy.stats import pearsonr
L = np.load("/tmp/explore/layers.npy"); y = np.load("/tmp/explore/y.npy"); g = np.load("/tmp/explore/groups.npy")
LG = np.load("/tmp/explore/logits.npy"); C = np.load("/tmp/explore/color.npy")
E, O = g == "emotion6", g == "oasis"
clipf = FunctionTransformer(lambda Z: np.clip(Z, -5, 5))
def ridge(): return make_pipeline(StandardScaler(), clipf, RidgeCV(alphas=np.logspace(-1, 5, 25), alpha_per_target=True, gcv_mode="eigen"))
def svr(Cv=3.0): return make_pipeline(StandardScaler(), clipf, MultiOutputRegressor(SVR(C=Cv, gamma="scale")))
def r(a,b): return [pearsonr(a[:,j], b[:,j])[0] for j in range(2)]
def zs(yy, grp):
    out = yy.copy()
    for s in np.unique(grp):
        m = grp == s; out[m] = (yy[m]-yy[m].mean(0))/yy[m].std(0)
    return out
def evaluate(F, name, model, joint=False, zscore=False):
    t = time.time(); res = {}
    for sname, m in (("E6", E), ("OASIS", O)):
        Fm, ym = F[m], y[m]; pred = np.zeros_like(ym)
        for tr, te in KFold(5, shuffle=True, random_state=0).split(Fm):
            if joint:
                Ft = np.vstack([Fm[tr], F[~m]]); yt = np.vstack([ym[tr], y[~m]]); gt = np.r_[np.zeros(len(tr)), np.ones((~m).sum())]
                if zscore: yt = zs(yt, gt)
                pred[te] = model().fit(Ft, yt).predict(Fm[te])
            else:
                pred[te] = model().fit(Fm[tr], ym[tr]).predict(Fm[te])
        res[sname] = r(pred, ym)
    if not joint:
        res["E6->OASIS"] = r(model().fit(F[E], y[E]).predict(F[O]), y[O])
        res["OASIS->E6"] = r(model().fit(F[O], y[O]).predict(F[E]), y[E])
    print(name, F.shape[1], " ".join(f"{k}: {v[0]:.3f}/{v[1]:.3f}" for k, v in res.items()), f"{time.time()-t:.0f}s", flush=True)
exp = sys.argv[1]
if exp == "a":
    evaluate(L, "ridge joint z", ridge, joint=True, zscore=True)
    evaluate(np.hstack([L, LG]), "ridge layers+logits", ridge)
if exp == "b":
    for Cv in (1.0, 3.0, 10.0):
        evaluate(L, f"svr C={Cv}", lambda: svr(Cv))
if exp == "c":
    evaluate(np.hstack([L, LG, C]), "ridge layers+logits+color", ridge)
    evaluate(L, "svr3 joint z", lambda: svr(3.0), joint=True, zscore=True)
