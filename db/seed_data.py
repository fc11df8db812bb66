"""Static reference data of the demo chain: regions, stores, coupon templates, names, tags."""

from __future__ import annotations

# (region id, name)
REGIONS: tuple[tuple[str, str], ...] = (
    ("R-EAST", "华东"),
    ("R-SOUTH", "华南"),
    ("R-NORTH", "华北"),
    ("R-SW", "西南"),
)

# (store id, region id, name, city, guides besides the manager)
STORES: tuple[tuple[str, str, str, str, int], ...] = (
    ("S001", "R-EAST", "上海南京西路店", "上海", 3),
    ("S002", "R-EAST", "上海徐汇日月光店", "上海", 2),
    ("S003", "R-EAST", "杭州湖滨银泰店", "杭州", 3),
    ("S004", "R-EAST", "南京新街口店", "南京", 2),
    ("S005", "R-SOUTH", "广州天河城店", "广州", 3),
    ("S006", "R-SOUTH", "深圳万象城店", "深圳", 2),
    ("S007", "R-SOUTH", "厦门中山路店", "厦门", 2),
    ("S008", "R-NORTH", "北京三里屯店", "北京", 3),
    ("S009", "R-NORTH", "北京望京店", "北京", 2),
    ("S010", "R-NORTH", "天津滨江道店", "天津", 2),
    ("S011", "R-SW", "成都春熙路店", "成都", 2),
    ("S012", "R-SW", "重庆解放碑店", "重庆", 2),
)

# (id, name, face value, min spend, validity days, stock or None)
COUPON_TEMPLATES: tuple[tuple[str, str, float, float, int, int | None], ...] = (
    ("NEW20", "新客二回券 满199减20", 20.0, 199.0, 30, None),
    ("BDAY50", "生日礼券 满299减50", 50.0, 299.0, 31, None),
    ("WAKE30", "沉睡唤醒券 满199减30", 30.0, 199.0, 14, None),
    ("VIP100", "VIP专享券 满999减100", 100.0, 999.0, 30, 500),
    ("MEMBERDAY15", "会员日券 满99减15", 15.0, 99.0, 7, None),
    ("SEASON40", "换季上新券 满399减40", 40.0, 399.0, 21, 3000),
    ("GIFT-SAMPLE", "到店礼 小样一份", 0.0, 0.0, 14, 2000),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲桂英华慧婷雪琳晶洁颖倩欣悦佳怡梦瑶思雨萱涵诗琪月蕾薇"
GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆志峰建晨"

#: Tag → share of customers carrying it (a mother-and-baby / women's-wear mix).
TAGS: dict[str, float] = {
    "孕期": 0.08,
    "宝宝1岁": 0.10,
    "宝宝3岁": 0.08,
    "高客单": 0.07,
    "线上浏览": 0.18,
    "价格敏感": 0.15,
    "会员日常客": 0.12,
    "企业微信好友": 0.45,
}
SOURCES = ("门店", "小程序", "企业微信", "天猫旗舰店", "抖音直播")
MEMBER_LEVEL_WEIGHTS = {"regular": 55, "silver": 25, "gold": 15, "diamond": 5}
#: Typical ticket by member level, in yuan.
TICKET = {"regular": 220.0, "silver": 320.0, "gold": 480.0, "diamond": 900.0}
BROWSE_CATEGORIES = ("童装", "孕妇装", "奶粉", "纸尿裤", "玩具", "女装", "护肤")
